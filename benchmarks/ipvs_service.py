#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark ``lvs.dr.ipvs_service`` against the guide's one-``ipvsadm``-call-per-rule way.

Usage (from the repository root)::

    source <(tools/labhost env)        # any Docker engine whose kernel has IPVS; a local one is fine too
    benchmarks/ipvs_service.py [--sizes 10,100,1000] [--keep] [--reuse]

What it does, for every N in ``--sizes`` (N virtual services x 3 real servers):

* creates one privileged container ``lvs-dr-bench`` (image ``lvs-dr/node:debian12``, ``sleep infinity``)
  on whatever engine the environment points at (``DOCKER_HOST`` ...), installs ipvsadm in it once, and
  removes it at the end, also on failure or Ctrl-C (unless ``--keep``). The container is its own network
  namespace, so its IPVS table is its own: ``ipvsadm -C`` in it touches nothing else. Addresses are from
  198.18.0.0/15 (benchmarking range); no packet is sent, only kernel table entries are made;
* baseline, the guide's way: a shell script of separate ``ipvsadm -A`` / ``ipvsadm -a`` processes, one
  per rule, timed inside the container (``date +%s.%N``) from an empty table ("from empty") and as the
  guide re-applies it ("guide re-run": ``ipvsadm -C`` then every rule again);
* the module: one ``lvs.dr.ipvs_service`` task with a ``services:`` list (vars file in JSON), run by
  ``ansible-playbook`` over ``community.docker.docker`` with pipelining, from an empty table, as a no-op
  re-run and with one weight changed. Three times per case: the ``ansible-playbook`` wall time, the task's
  own duration (``ansible.posix.json`` callback), and the module alone ("pure": the AnsiballZ payload
  kept from an extra run and executed in the container, timed there, so no Ansible controller overhead);
* the parts, to tell the module's own cost from what any design pays: the floor (``ansible.builtin.ping``
  as a playbook and pure: what every module run costs before doing anything), the
  two ``ipvsadm -Ln`` reads of the full table, and the whole table as one ``ipvsadm -R`` batch from empty.

Prints a Markdown table, the floor and parts (with no-op / from-empty recomputed above the floor) and a
linearity note. The issue's goals are reported, not asserted: at N=1000
from-empty >= 20x faster than per-rule, no-op <= 20 % of from-empty, time about linear in N.
Needs ``ansible-playbook`` (the project venv's is preferred) and the ``docker`` CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from ipaddress import IPv4Address
from pathlib import Path
from types import FrameType
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
NAME = "lvs-dr-bench"
IMAGE = "lvs-dr/node:debian12"
VIP_BASE = IPv4Address("198.18.0.0")
RIP_BASE = IPv4Address("198.19.0.0")
SERVERS_PER_SERVICE = 3
WORK = "/root/bench"

PLAYBOOK = """\
- name: ipvs_service benchmark
  hosts: all
  gather_facts: false
  tasks:
    - name: ipvs_service
      lvs.dr.ipvs_service:
        services: "{{ bench_services }}"
      register: bench_result
"""

# The floor every module run pays whatever it does: the same connection, Python start-up, AnsiballZ unpacking
# and the import of ansible.module_utils.basic, measured with the smallest module there is.
FLOOR_PLAYBOOK = """\
- name: floor
  hosts: all
  gather_facts: false
  tasks:
    - name: ping
      ansible.builtin.ping:
"""


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- docker


def docker(*args: str, stdin: Optional[str] = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise BenchError(f"docker {' '.join(args[:3])} ... failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def sh(script: str, stdin: Optional[str] = None, check: bool = True) -> str:
    """Run a POSIX shell script in the bench container (one ``docker exec``)."""
    return docker("exec", "-i", NAME, "sh", "-c", script, stdin=stdin, check=check)


def timed_in_container(command: str) -> float:
    """Seconds ``command`` took, measured inside the container (no docker exec overhead)."""
    out = sh(f's=$(date +%s.%N); {command} >/dev/null; rc=$?; e=$(date +%s.%N); echo "$rc $s $e"')
    rc, start, end = out.split()[-3:]
    if rc != "0":
        raise BenchError(f"in container: {command!r} exited {rc}")
    return float(end) - float(start)


def put_file(path: str, content: str) -> None:
    sh(f"mkdir -p {WORK} && cat > {path}", stdin=content)


def container_exists() -> bool:
    return bool(docker("ps", "-a", "--filter", f"name=^{NAME}$", "--format", "{{.Names}}").strip())


def create_container(image: str) -> None:
    docker("run", "-d", "--privileged", "--name", NAME, "--label", "lvs-dr.role=benchmark",
           "--entrypoint", "sleep", image, "infinity")


def install_ipvsadm() -> None:
    if sh("command -v ipvsadm || true").strip():
        return
    print("installing ipvsadm in the bench container (apt-get update + install) ...", flush=True)
    sh("export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq ipvsadm")
    sh("ipvsadm -Ln")  # loads ip_vs on the engine's kernel, fails early without IPVS


def remove_container() -> None:
    docker("rm", "-f", NAME, check=False)


def count_table() -> tuple[int, int]:
    out = sh("ipvsadm -Ln")
    services = sum(1 for line in out.splitlines() if line.startswith(("TCP", "UDP", "SCTP", "FWM")))
    servers = sum(1 for line in out.splitlines() if line.strip().startswith("->") and "RemoteAddress" not in line)
    return services, servers


# --------------------------------------------------------------------------- workload


def services(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append({
            "address": str(VIP_BASE + 1 + i),
            "port": 80,
            "scheduler": "rr",
            "real_servers": [
                {"address": str(RIP_BASE + 1 + SERVERS_PER_SERVICE * i + j), "weight": 1}
                for j in range(SERVERS_PER_SERVICE)
            ],
        })
    return out


def one_change(svcs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = json.loads(json.dumps(svcs))
    changed[len(changed) // 2]["real_servers"][0]["weight"] = 2
    return changed


def guide_script(svcs: list[dict[str, Any]]) -> str:
    """One ipvsadm process per rule, as the guide does it."""
    lines = ["set -e"]
    for svc in svcs:
        vip = f"{svc['address']}:{svc['port']}"
        lines.append(f"ipvsadm -A -t {vip} -s {svc['scheduler']}")
        for rs in svc["real_servers"]:
            lines.append(f"ipvsadm -a -t {vip} -r {rs['address']}:{svc['port']} -g -w {rs['weight']}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- ansible


@dataclass
class Run:
    wall: float
    task: float
    changed: bool
    commands: int


@dataclass
class Ansible:
    playbook_bin: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, svcs: list[dict[str, Any]], keep_remote: bool = False, playbook: str = "bench.yml") -> Run:
        vars_file = self.tmp / "vars.json"
        vars_file.write_text(json.dumps({"bench_services": svcs}), encoding="utf-8")
        env = dict(self.env)
        if keep_remote:  # the payload must be a file on the node to be kept: no pipelining for this run
            env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="0")
        cmd = [self.playbook_bin, "-i", f"{NAME},", "-c", "community.docker.docker",
               "-e", "ansible_python_interpreter=/usr/bin/python3", "-e", f"@{vars_file}",
               str(self.tmp / playbook)]
        start = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        try:
            report = json.loads(proc.stdout)
            task = report["plays"][0]["tasks"][0]
            result = task["hosts"][NAME]
        except (ValueError, KeyError, IndexError) as exc:
            raise BenchError(f"ansible-playbook rc={proc.returncode}, unreadable output ({exc}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
        if proc.returncode != 0 or result.get("failed"):
            raise BenchError(f"the module failed: {result.get('msg')}\n{proc.stderr[-2000:]}")
        duration = task["task"]["duration"]
        seconds = (_when(duration["end"]) - _when(duration["start"])).total_seconds()
        return Run(wall, seconds, bool(result.get("changed")), len(result.get("commands", [])))


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.rstrip("Z"))


def find_playbook_bin() -> str:
    venv = ROOT / ".venv" / "bin" / "ansible-playbook"
    if venv.exists():
        return str(venv)
    found = shutil.which("ansible-playbook")
    if not found:
        raise BenchError("ansible-playbook not found (make the project venv or put it on PATH)")
    return found


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # keep stdout pure JSON
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".cache" / "collections"))
    env.update(
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PIPELINING="1",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_NOCOLOR="1",
    )
    return env


# --------------------------------------------------------------------------- measurement


def capture_payload(name: str, module: str = "ipvs_service") -> str:
    """Move the newest kept AnsiballZ payload to WORK/<name>.py; return its path."""
    path = f"{WORK}/{name}.py"
    sh(f"mkdir -p {WORK}; f=$(ls -t ~/.ansible/tmp/ansible-tmp-*/AnsiballZ_{module}.py | head -n 1); "
       f'mv "$f" {path}; rm -rf ~/.ansible/tmp/ansible-tmp-*')
    return path


@dataclass
class Row:
    n: int
    base_empty: float = 0.0
    base_rerun: Optional[float] = None
    empty: Optional[Run] = None
    noop: Optional[Run] = None
    change: Optional[Run] = None
    pure_empty: float = 0.0
    pure_noop: float = 0.0
    pure_change: float = 0.0
    floor: Optional[Run] = None  # ansible.builtin.ping: what any module run costs
    pure_floor: float = 0.0
    reads: float = 0.0  # ipvsadm -Ln plus -Ln --thresholds on the full table: what every run reads
    batch: float = 0.0  # the whole table as one ipvsadm -R from empty: the apply alone
    load: str = ""  # the engine's 1-minute load average before / after: other users skew the timings


def check(what: str, cond: bool) -> None:
    if not cond:
        raise BenchError(f"sanity check failed: {what}")


def measure(n: int, ansible: Ansible, rerun_max: int) -> Row:
    row = Row(n, load=loadavg())
    svcs = services(n)
    changed = one_change(svcs)
    expect = (n, n * SERVERS_PER_SERVICE)
    script = guide_script(svcs)
    put_file(f"{WORK}/guide.sh", script)
    put_file(f"{WORK}/batch.txt", "".join(line[len("ipvsadm "):] + "\n" for line in script.splitlines()
                                           if line.startswith("ipvsadm ")))

    sh("ipvsadm -C")
    row.base_empty = timed_in_container(f"sh {WORK}/guide.sh")
    check("baseline built the table", count_table() == expect)
    if n <= rerun_max:  # ipvsadm -C plus the same script: about from-empty again, costly at large N
        row.base_rerun = timed_in_container(f"ipvsadm -C && sh {WORK}/guide.sh")

    row.reads = timed_in_container("ipvsadm -Ln >/dev/null && ipvsadm -Ln --thresholds >/dev/null")
    sh("ipvsadm -C")
    row.batch = timed_in_container(f"ipvsadm -R < {WORK}/batch.txt")
    check("one batch built the table", count_table() == expect)

    row.floor = ansible.run([], playbook="floor.yml")
    ansible.run([], keep_remote=True, playbook="floor.yml")
    payload_floor = capture_payload("floor", "ping")
    row.pure_floor = timed_in_container(f"python3 {payload_floor}")

    sh("ipvsadm -C")
    row.empty = ansible.run(svcs)
    check("module from empty changed", row.empty.changed and count_table() == expect)
    row.noop = ansible.run(svcs)
    check("module re-run is a no-op", not row.noop.changed)
    row.change = ansible.run(changed)
    check("one change is one command", row.change.changed and row.change.commands == 1)

    # the module alone: keep the payloads of two extra runs, then execute them in the container
    ansible.run(svcs, keep_remote=True)  # one change back
    payload = capture_payload("full")
    ansible.run(changed, keep_remote=True)
    payload_changed = capture_payload("changed")
    sh("ipvsadm -C")
    row.pure_empty = timed_in_container(f"python3 {payload}")
    check("payload built the table", count_table() == expect)
    row.pure_noop = timed_in_container(f"python3 {payload}")
    row.pure_change = timed_in_container(f"python3 {payload_changed}")
    sh("ipvsadm -C")
    row.load += f" / {loadavg()}"
    return row


def loadavg() -> str:
    return sh("cat /proc/loadavg").split()[0]


# --------------------------------------------------------------------------- report


def report(rows: list[Row]) -> str:
    out = [
        "| N | rules | baseline from-empty s | guide re-run s | module from-empty s: playbook / task / pure "
        "| speed-up (x): playbook / pure | module no-op s: playbook / task / pure | no-op / from-empty % "
        "(playbook / pure) | one-change s: playbook / task / pure | engine load before / after |",
        "|---:|---:|---:|---:|---|---|---|---|---|---|",
    ]
    for r in rows:
        assert r.empty and r.noop and r.change
        out.append(
            f"| {r.n} | {r.n * (1 + SERVERS_PER_SERVICE)} | {r.base_empty:.2f} "
            f"| {'n/m' if r.base_rerun is None else f'{r.base_rerun:.2f}'} "
            f"| {r.empty.wall:.2f} / {r.empty.task:.2f} / {r.pure_empty:.2f} "
            f"| {r.base_empty / r.empty.wall:.1f} / {r.base_empty / r.pure_empty:.1f} "
            f"| {r.noop.wall:.2f} / {r.noop.task:.2f} / {r.pure_noop:.2f} "
            f"| {100 * r.noop.wall / r.empty.wall:.0f} / {100 * r.pure_noop / r.pure_empty:.0f} "
            f"| {r.change.wall:.2f} / {r.change.task:.2f} / {r.pure_change:.2f} | {r.load} |"
        )
    out += ["", "Floor and parts, seconds: `ansible.builtin.ping` (playbook / pure), the two `ipvsadm -Ln` reads of "
            "the full table, the whole table as one `ipvsadm -R` from empty; then no-op / from-empty with the floor "
            "subtracted from both (playbook / pure):", ""]
    for r in rows:
        assert r.empty and r.noop and r.floor
        above_wall = 100 * (r.noop.wall - r.floor.wall) / max(r.empty.wall - r.floor.wall, 1e-9)
        above_pure = 100 * (r.pure_noop - r.pure_floor) / max(r.pure_empty - r.pure_floor, 1e-9)
        out.append(f"- N={r.n}: floor {r.floor.wall:.2f} / {r.pure_floor:.2f}; reads {r.reads:.2f}; "
                   f"one batch {r.batch:.2f}; no-op above the floor {above_wall:.0f} % / {above_pure:.0f} % "
                   f"of from-empty above the floor")
    out += ["", "Linearity, milliseconds per service (from-empty; pure module, playbook, baseline):", ""]
    for r in rows:
        assert r.empty
        out.append(f"- N={r.n}: module {1000 * r.pure_empty / r.n:.1f} ms, playbook {1000 * r.empty.wall / r.n:.1f} "
                   f"ms, baseline {1000 * r.base_empty / r.n:.1f} ms")
    return "\n".join(out)


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100,1000", help="comma-separated N (default: %(default)s)")
    parser.add_argument("--image", default=IMAGE, help="node image (default: %(default)s)")
    parser.add_argument("--rerun-max", type=int, default=1000,
                        help="time the guide re-run only up to this N (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="leave the bench container running at the end")
    parser.add_argument("--reuse", action="store_true", help=f"use an existing {NAME} container")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    signal.signal(signal.SIGTERM, _terminate)
    try:
        playbook_bin = find_playbook_bin()
        exists = container_exists()
        if exists and not args.reuse:
            raise BenchError(f"a container named {NAME} exists already: pass --reuse, or remove it "
                             f"(docker rm -f {NAME}) if it is a leftover of this benchmark")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lvs-dr-bench-") as tmp:
            (Path(tmp) / "bench.yml").write_text(PLAYBOOK, encoding="utf-8")
            (Path(tmp) / "floor.yml").write_text(FLOOR_PLAYBOOK, encoding="utf-8")
            ansible = Ansible(playbook_bin, Path(tmp), ansible_env())
            if not exists:
                create_container(args.image)
            install_ipvsadm()
            for n in sizes:
                print(f"N={n} ...", flush=True)
                rows.append(measure(n, ansible, args.rerun_max))
                print(report(rows[-1:]).splitlines()[2], flush=True)
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if not args.keep:
            remove_container()
    print()
    print(report(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
