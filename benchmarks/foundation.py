#!/usr/bin/env python3
"""Test-bed numbers: how long `make lab` and `make test` take, and what one
Ansible task costs in the lab, with Ansible's own strategy and with Mitogen.

    benchmarks/foundation.py [--parts lab,tasks,test] [--no-cold]

Parts (all by default; `make benchmark`):
  lab    `make lab` from an empty cache (the user's cache is moved aside
         and dropped afterwards; the new one takes its place), `make lab`
         again with that cache (a fresh guest), and a third `make lab` that
         changes nothing
  tasks  on that lab: the idempotent re-run of site.yml with Ansible's own
         strategy (pipelining, what the scenarios used before) and with
         Mitogen; the median wall time of the tasks that ran a module
  test   `make test` in a clean clone of HEAD with the cache as it is, and
         (unless --no-cold) in another clean clone from an empty cache
         (LVS_DR_CACHE in a temporary directory)

The lab part replaces the Molecule state of a running `make lab` (the same
scenario) but runs its own guests (own run directory and port), so a running
guest is left alone. Prints a table and writes benchmarks/results/foundation.json
(keys measured by this run replace the old ones; `date` and `commit` say when).
Asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "foundation.json"
VENV_BIN = REPO / ".venv" / "bin"


class Bench:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.log = workdir / "bench.log"
        self.results: dict[str, float] = {}
        self.notes: dict[str, str] = {}

    def timed(self, argv: list[str], env: dict[str, str], cwd: Path = REPO, check: bool = True) -> float:
        t0 = time.monotonic()
        with open(self.log, "a") as out:
            out.write(f"\n$ {' '.join(argv)}  (cwd {cwd})\n")
            out.flush()
            proc = subprocess.run(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, check=False)
        took = time.monotonic() - t0
        print(f"  {' '.join(argv)}: {took:.0f} s (rc {proc.returncode})", flush=True)
        if check and proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}) after {took:.0f} s; see {self.log}")
        return took


def base_env(workdir: Path, cache: Path) -> dict[str, str]:
    """Own guest (run directory, free port) and the given cache."""
    env = dict(os.environ, LVS_DR_LABHOST="qemu", LVS_DR_LAB_PORT="0", LVS_DR_RUN_DIR=str(workdir / "run"),
               LVS_DR_CACHE=str(cache), PY_COLORS="0", ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    return env


def user_cache() -> Path:
    return Path(os.environ.get("LVS_DR_CACHE") or Path.home() / ".cache" / "lvs-dr")


def lab_part(bench: Bench, cold: bool) -> dict[str, str]:
    """Returns the environment of the lab left running (for the tasks part)."""
    cache = user_cache()
    if cold:
        # The user's cache is moved aside (and dropped once the new one is
        # built): the cold run fills the same path, and every later run, this
        # benchmark's and the user's, finds it warm.
        before = bench.workdir / "cache-before"
        if cache.exists():
            cache.rename(before)
        env = base_env(bench.workdir, cache)
        try:
            bench.results["make_lab_cold_s"] = bench.timed(["make", "-s", "lab"], env)
        except BaseException:
            subprocess.run(["make", "-s", "lab-down"], env=env, cwd=REPO, capture_output=True, check=False)
            if before.exists():  # the user's cache comes back
                shutil.rmtree(cache, ignore_errors=True)
                before.rename(cache)
            raise
        bench.timed(["make", "-s", "lab-down"], env)
        shutil.rmtree(before, ignore_errors=True)
    # Warm: the cache as the cold run left it (or the user's), a new guest.
    env = base_env(bench.workdir, cache)
    bench.results["make_lab_warm_s"] = bench.timed(["make", "-s", "lab"], env)
    bench.results["make_lab_rerun_s"] = bench.timed(["make", "-s", "lab"], env)
    out = subprocess.run([str(REPO / "tools" / "labhost"), "env"], env=env, capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        if line.startswith("export "):
            key, _, value = line[len("export "):].partition("=")
            env[key] = value
    return env


def task_median(timing: Path) -> tuple[float, int]:
    data = json.loads(timing.read_text())
    # Tasks that ran a module on some host (not only skipped, not controller-only).
    ran = [t["seconds"] for t in data["tasks"] if t["results"] and t["runs_module"]]
    return statistics.median(ran), len(ran)


def tasks_part(bench: Bench, env: dict[str, str]) -> None:
    """site.yml's idempotent re-run on the lab, plain strategy and Mitogen."""
    runs = {"before": {"ANSIBLE_STRATEGY": "linear"},
            "after": {"ANSIBLE_STRATEGY": "mitogen_linear", "ANSIBLE_DEPRECATION_WARNINGS": "false",
                      "ANSIBLE_STRATEGY_PLUGINS": str(REPO / "extensions" / "molecule" / "shared"
                                                      / "strategy_plugins")}}
    for label, extra in runs.items():
        timing = bench.workdir / f"tasks-{label}.json"
        run_env = dict(env, **extra, ANSIBLE_PIPELINING="true", ANSIBLE_GATHERING="explicit",
                       ANSIBLE_CALLBACKS_ENABLED="lvs_dr_timing",
                       ANSIBLE_CALLBACK_PLUGINS=str(REPO / "benchmarks" / "callback_plugins"),
                       LVS_DR_TIMING_FILE=str(timing),
                       ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"))
        took = bench.timed(["ansible-playbook", "-i", "inventories/local", "site.yml"], run_env)
        median, count = task_median(timing)
        bench.results[f"task_median_s_{label}"] = round(median, 2)
        bench.results[f"site_rerun_s_{label}"] = took
        bench.notes[f"task_median_s_{label}"] = f"{count} tasks, {extra['ANSIBLE_STRATEGY']}"


def test_part(bench: Bench, cold: bool) -> None:
    order = [("make_test_warm_s", user_cache())]
    if cold:
        order.append(("make_test_cold_s", Path(tempfile.mkdtemp(prefix="cold-cache-", dir=bench.workdir))))
    for key, cache in order:
        # A clean clone each time, as CI runs it (own venv, own Molecule state).
        clone = bench.workdir / f"clone-{key}"
        subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(clone)], check=True)
        env = base_env(bench.workdir, cache)
        env["PATH"] = os.environ["PATH"]
        bench.results[key] = bench.timed(["make", "-s", "test"], env, cwd=clone)
        write_results(bench)  # a later part may not finish
        shutil.rmtree(clone, ignore_errors=True)


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                          check=False).stdout.strip()


def write_results(bench: Bench) -> None:
    old: dict = {}
    if RESULTS.exists():
        old = json.loads(RESULTS.read_text())
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    merged = {**old, **{k: round(v, 1) for k, v in bench.results.items()}}
    measured = dict(old.get("measured", {}))
    for key in bench.results:
        measured[key] = {"date": now, "commit": commit(), **({"note": bench.notes[key]} if key in bench.notes else {})}
    merged.update({"date": now, "commit": commit(), "measured": measured,
                   "machine": f"{os.cpu_count()} cores, QEMU/TCG guest when the kernel has no IPVS"})
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="lab,tasks,test", help="comma-separated: lab, tasks, test")
    parser.add_argument("--no-cold", action="store_true", help="skip the empty-cache runs")
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    if parts - {"lab", "tasks", "test"}:
        parser.error(f"--parts: unknown part(s) {', '.join(sorted(parts - {'lab', 'tasks', 'test'}))}")

    workdir = Path(tempfile.mkdtemp(prefix="lvs-dr-bench-"))
    bench = Bench(workdir)
    print(f"log: {bench.log}", flush=True)
    lab_env: Optional[dict[str, str]] = None
    try:
        if "lab" in parts or "tasks" in parts:
            lab_env = lab_part(bench, cold=not args.no_cold and "lab" in parts)
        if "tasks" in parts and lab_env:
            tasks_part(bench, lab_env)
    finally:
        if lab_env:
            bench.timed(["make", "-s", "lab-down"], lab_env, check=False)
    if "test" in parts:
        test_part(bench, cold=not args.no_cold)
    write_results(bench)

    width = max(len(k) for k in bench.results)
    print(f"\n{'measure':<{width}}  value")
    for key, value in bench.results.items():
        note = f"  ({bench.notes[key]})" if key in bench.notes else ""
        print(f"{key:<{width}}  {value:.1f}{note}")
    print(f"written to {RESULTS.relative_to(REPO)}; log {bench.log}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
