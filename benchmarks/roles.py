#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time ``site.yml`` (roles ``lvs.dr.realserver`` + ``lvs.dr.director``) on the four-node lab.

Usage (from the repository root)::

    tools/labhost exec -- benchmarks/roles.py [--keep]

Uses the Molecule ``default`` scenario (client, director, rs1, rs2 on the engine the environment points
at; it replaces a running ``make lab``). Untimed: destroy, create, prepare (new containers from the node
image, so the first converge starts from packages not installed and apt lists stale). Timed, each as the
wall time of the Molecule command that runs it:

* cold converge: ``molecule converge`` on the new nodes (apt update, apache2, ipvsadm, ..., everything);
* idempotent re-run: ``molecule converge`` again; its PLAY RECAP must say changed=0 on every host;
* check mode: ``molecule converge -- --check --diff`` on the converged lab; must also report changed=0;
* verify: ``molecule verify`` (the verify playbook: requests through the VIP, ARP, counters, logs; and
  the testinfra checks).

The re-run is recorded by the ``lvs_dr_timing`` callback (benchmarks/callback_plugins): the module runs
per host and per role, i.e. every result of a task that runs a module on the host (a loop counts each
item, a skipped task nothing). Goal (reported, not asserted): an idempotent re-run executes at most 12
module runs per host. The wall times are reported beside, with the cold converge of the same run as the
baseline. Written to benchmarks/results/roles.json with the date and commit. The containers are destroyed
at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "roles.json"
GOAL_MODULE_RUNS = 12
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


class BenchError(Exception):
    pass


@dataclass
class Step:
    name: str
    seconds: float
    changed: Optional[int]
    tasks: Optional[int]


def molecule(*args: str, env: dict[str, str], log: Path) -> tuple[float, str]:
    t0 = time.monotonic()
    try:
        proc = subprocess.run(["molecule", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BenchError("molecule is not on PATH: run `make benchmark-roles` (it uses the project's venv)") from None
    seconds = time.monotonic() - t0
    out = ANSI.sub("", proc.stdout + proc.stderr)
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n===== molecule {' '.join(args)} ({seconds:.1f} s, rc={proc.returncode})\n{out}")
    if proc.returncode != 0:
        raise BenchError(f"molecule {' '.join(args)} failed (rc={proc.returncode}); see {log}")
    return seconds, out


def recap(out: str) -> tuple[Optional[int], Optional[int]]:
    """(changed, ok) summed over the hosts of the last PLAY RECAP, None if there is none."""
    rows = RECAP.findall(out)
    if not rows:
        return None, None
    return sum(int(r[2]) for r in rows), sum(int(r[1]) for r in rows)


def measure(log: Path, timing: Path) -> list[Step]:
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    for step in (("destroy",), ("create",), ("prepare", "--force")):
        molecule(*step, "-s", "default", env=env, log=log)
    recorded = dict(env, ANSIBLE_CALLBACKS_ENABLED="lvs_dr_timing",
                    ANSIBLE_CALLBACK_PLUGINS=str(ROOT / "benchmarks" / "callback_plugins"),
                    LVS_DR_TIMING_FILE=str(timing))
    steps: list[Step] = []
    for name, args in (
        ("cold converge", ("converge", "-s", "default")),
        ("idempotent re-run", ("converge", "-s", "default")),
        ("check mode (--check --diff)", ("converge", "-s", "default", "--", "--check", "--diff")),
        ("verify", ("verify", "-s", "default")),
    ):
        print(f"{name} ...", flush=True)
        seconds, out = molecule(*args, env=recorded if name == "idempotent re-run" else env, log=log)
        changed, ok = recap(out)
        steps.append(Step(name, seconds, changed, ok))
    if steps[1].changed != 0:
        raise BenchError(f"the re-run was not idempotent: changed={steps[1].changed}; see {log}")
    if steps[2].changed != 0:
        raise BenchError(f"check mode predicted changes on the converged lab: changed={steps[2].changed}; see {log}")
    return steps


def module_runs(timing: Path) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    """Module runs per host and per host and role, from the callback's file of the re-run."""
    data = json.loads(timing.read_text(encoding="utf-8"))
    return dict(sorted(data["module_runs"].items())), {host: dict(sorted(roles.items()))
                                                       for host, roles in sorted(data["module_runs_by_role"].items())}


def runs_table(per_host: dict[str, int], per_role: dict[str, dict[str, int]]) -> str:
    roles = sorted({role for counts in per_role.values() for role in counts})
    out = ["| host | module runs | " + " | ".join(roles) + " |", "|---|---:|" + "---:|" * len(roles)]
    for host, total in per_host.items():
        out.append(f"| {host} | {total} | " + " | ".join(str(per_role[host].get(role, 0)) for role in roles) + " |")
    worst = max(per_host.values())
    out += ["", f"Goal: an idempotent re-run executes at most {GOAL_MODULE_RUNS} module runs per host: "
                f"at most {worst} ({'met' if worst <= GOAL_MODULE_RUNS else 'NOT met'})."]
    return "\n".join(out)


def write_results(steps: list[Step], per_host: dict[str, int], per_role: dict[str, dict[str, int]]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    data = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "module_runs_per_host": per_host,
        "module_runs_per_host_and_role": per_role,
        "goal_module_runs_per_host": GOAL_MODULE_RUNS,
        "wall_s": {step.name: round(step.seconds, 1) for step in steps},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def report(steps: list[Step], load: str) -> str:
    cold = steps[0].seconds
    out = [
        f"site.yml on the four-node lab (engine load before / after: {load})",
        "",
        "| step | wall s | % of cold converge | changed | ok tasks (all hosts) |",
        "|---|---:|---:|---:|---:|",
    ]
    for s in steps:
        out.append(f"| {s.name} | {s.seconds:.1f} | {100 * s.seconds / cold:.0f} "
                   f"| {'' if s.changed is None else s.changed} | {'' if s.tasks is None else s.tasks} |")
    return "\n".join(out)


def loadavg() -> str:
    try:
        proc = subprocess.run(["docker", "run", "--rm", "--network=none", "lvs-dr/node:debian12", "cat",
                               "/proc/loadavg"], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return "n/a"
    return proc.stdout.split()[0] if proc.returncode == 0 and proc.stdout else "n/a"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the converged lab running")
    parser.add_argument("--log", default=str(ROOT / ".cache" / "benchmark-roles.log"),
                        help="full Molecule output (default: %(default)s)")
    args = parser.parse_args(argv)
    log = Path(args.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("", encoding="utf-8")
    env = dict(os.environ)
    load = loadavg()
    timing = log.with_name("benchmark-roles-rerun.json")
    try:
        steps = measure(log, timing)
        per_host, per_role = module_runs(timing)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep and shutil.which("molecule", path=env.get("PATH")):
            subprocess.run(["molecule", "destroy", "-s", "default"], cwd=ROOT, env=env, capture_output=True,
                           check=False)
    print()
    print(report(steps, f"{load} / {loadavg()}"))
    print()
    print("Module runs of the idempotent re-run, per host and role:")
    print(runs_table(per_host, per_role))
    write_results(steps, per_host, per_role)
    print(f"\nWritten to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
