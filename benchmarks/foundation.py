#!/usr/bin/env python3
"""Foundation numbers: how long until a Docker engine with IPVS is ready,
what the images cost, how long `molecule test` spends per stage, and how much
host memory the QEMU guest takes.

    benchmarks/foundation.py [--cold] [--scenario default]

Runs its own guest (own run directory, free port), so a running lab is left
alone; with --cold also in a temporary cache. Prints a table; asserts nothing.

--cold builds everything from nothing (kernel, guest disk, node image, image
layer): several minutes. Without it, "cold" is taken from the cache's build
log lines and only warm numbers are measured.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABHOST = REPO / "tools" / "labhost"
STAGES = ("destroy", "create", "prepare", "converge", "idempotence", "verify", "destroy")


def timed(argv: list[str], env: dict[str, str], log: Path) -> tuple[float, str]:
    t0 = time.monotonic()
    with open(log, "a") as out:
        proc = subprocess.run(argv, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=out, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}); see {log}")
    return time.monotonic() - t0, proc.stdout


def exports(text: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"export (\w+)=(.*)", line)
        if m:
            env[m.group(1)] = m.group(2)
    return env


def qemu_rss_mib(cache: Path) -> int:
    state = cache / "run" / "state.json"
    try:
        pid = int(re.search(r'"pid": (\d+)', state.read_text()).group(1))  # type: ignore[union-attr]
        status = Path(f"/proc/{pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024  # type: ignore[union-attr]
    except (OSError, AttributeError, ValueError):
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cold", action="store_true", help="also measure a build from an empty cache")
    parser.add_argument("--scenario", default="default", help="Molecule scenario to time per stage")
    parser.add_argument("--skip-molecule", action="store_true")
    args = parser.parse_args()

    log = Path(tempfile.mkdtemp(prefix="lvs-dr-bench-")) / "bench.log"
    # Its own run directory and port: a lab the user has running stays untouched.
    base_env = dict(os.environ, LVS_DR_LABHOST="qemu", LVS_DR_LAB_PORT="0",
                    LVS_DR_RUN_DIR=str(log.parent / "run"))
    rows: list[tuple[str, str]] = []

    cold_cache = None
    if args.cold:
        cold_cache = Path(tempfile.mkdtemp(prefix="lvs-dr-cold-cache-"))
        env = dict(base_env, LVS_DR_CACHE=str(cold_cache))
        # The Debian package download cache is kept: the network is not what we measure.
        debs = Path(os.environ.get("LVS_DR_CACHE", Path.home() / ".cache" / "lvs-dr")) / "debs"
        if debs.is_dir():
            shutil.copytree(debs, cold_cache / "debs")
        t_img, _ = timed([str(LABHOST), "images"], env, log)
        rows.append(("node image build (debootstrap + tar)", f"{t_img:.0f} s"))
        t_cold, _ = timed([str(LABHOST), "up"], env, log)
        rows.append(("cold: empty cache -> Docker API ready (excl. node image)", f"{t_cold:.0f} s"))
        timed([str(LABHOST), "down"], env, log)
        cache = cold_cache
    else:
        cache = Path(os.environ.get("LVS_DR_CACHE", Path.home() / ".cache" / "lvs-dr"))

    env = dict(base_env, LVS_DR_CACHE=str(cache))
    t_warm, out = timed([str(LABHOST), "up"], env, log)
    rows.append(("warm: cached images -> Docker API ready", f"{t_warm:.0f} s"))
    rows.append(("guest host memory after boot (VmHWM)", f"{qemu_rss_mib(cache)} MiB"))
    env.update(exports(out))
    try:
        if not args.skip_molecule:
            venv_bin = REPO / ".venv" / "bin"
            env["PATH"] = f"{venv_bin}:{env['PATH']}"
            env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / ".cache" / "collections"))
            total = 0.0
            for stage in STAGES:
                t, _ = timed(["molecule", stage, "-s", args.scenario], env, log)
                total += t
                rows.append((f"molecule {stage} ({args.scenario})", f"{t:.0f} s"))
            rows.append((f"molecule test total ({args.scenario})", f"{total:.0f} s"))
            rows.append(("guest host memory peak (VmHWM)", f"{qemu_rss_mib(cache)} MiB"))
    finally:
        timed([str(LABHOST), "down"], env, log)
        if cold_cache:
            shutil.rmtree(cold_cache, ignore_errors=True)

    width = max(len(name) for name, _ in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  -----")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"(log: {log})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
