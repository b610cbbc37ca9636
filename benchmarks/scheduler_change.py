#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scheduler change under load: the plain ``ipvsadm -E -s`` against a firewall-mark detour, counted.

Usage (from the repository root)::

    source <(tools/labhost env)        # a Docker engine whose kernel has IPVS
    benchmarks/scheduler_change.py [--changes 12] [--rounds 2] [--keep]

Containers of its own on the network ``lvs-dr-kd`` (172.31.209.0/24, created when missing, removed when it
created it and nothing else uses it): ``kd-sc-client``, ``kd-sc-director`` and two real servers
``kd-sc-rs1``/``kd-sc-rs2`` (image ``lvs-dr/node:debian12``: apache2, ipvsadm and nft are in it), set up by
hand as the guide's lab (VIP on the real servers' ``lo`` with arp_ignore=1/arp_announce=2, VIP on the
director's eth0, ``-A -t VIP:80 -s rr`` with both servers, ``-g -w 1``). Removed at the end, also on
failure (unless ``--keep``).

Per round, three blocks one after the other, each under its own bounded load from the client
(``extensions/molecule/default/load_client.py``: 3 workers with a new connection per request, 2 with
keep-alive connections of 8 s), each block making ``--changes`` scheduler changes (rr -> wrr -> rr ...),
2 s apart, in one shell loop on the director:

* **none**: the same loop without a change, the noise floor of the test bed (a failure there is the guest's);
* **plain**: ``ipvsadm -E -t VIP:80 -s NEW`` (what ``lvs.dr.ipvs_service`` does today);
* **detour**: a firewall-mark service with the new scheduler and the same real servers (one ``ipvsadm -R``
  batch), an nft rule in the director's prerouting (priority mangle) marking VIP:80 (IPVS looks a marked
  packet's service up by its mark before the address: ``ip_vs_service_find`` in net/netfilter/ipvs/
  ip_vs_ctl.c; packets of existing connections find their connection entry first, ``ip_vs_in``), the
  scheduler edit on the address service, the rule removed, then a wait (at most 15 s) until the mark
  service has no active connection left, and the mark service deleted.

A failure counts as "near a change" when it happened between a change's start and 6 s after its end (the
client's timeout is 5 s). Prints the counts and writes ``benchmarks/results/scheduler_change.json`` with the
date and commit. It asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "scheduler_change.json"
LOAD_CLIENT = ROOT / "extensions" / "molecule" / "default" / "load_client.py"
IMAGE = "lvs-dr/node:debian12"
NETWORK = "lvs-dr-kd"
SUBNET = "172.31.209"
PREFIX = "kd-sc-"
NODES = {"client": f"{SUBNET}.20", "director": f"{SUBNET}.21", "rs1": f"{SUBNET}.22", "rs2": f"{SUBNET}.23"}
VIP = f"{SUBNET}.160"
MARK = 7919  # the detour's firewall mark
SCHEDULERS = ("wrr", "rr")
METHODS = ("none", "plain", "detour")  # none: the same load and loop without a change (the noise floor)

# Each change printed with its start and end (epoch ms), to match the failures' times.
NONE = """
i=0
while [ $i -lt {changes} ]; do
  t0=$(date +%s%3N); t1=$(date +%s%3N); echo "change $t0 $t1"
  i=$((i + 1)); sleep 2
done
"""

PLAIN = """
i=0
while [ $i -lt {changes} ]; do
  if [ $((i % 2)) -eq 0 ]; then s=wrr; else s=rr; fi
  t0=$(date +%s%3N)
  ipvsadm -E -t {vip}:80 -s $s
  t1=$(date +%s%3N); echo "change $t0 $t1"
  i=$((i + 1)); sleep 2
done
"""

# The detour, timed per change (ms): up to the steer back, and until the mark service is gone.
DETOUR = """
set -e
nft add table ip kd_steer
nft 'add chain ip kd_steer pre {{ type filter hook prerouting priority mangle; }}'
ms() {{ date +%s%3N; }}
i=0
while [ $i -lt {changes} ]; do
  if [ $((i % 2)) -eq 0 ]; then s=wrr; else s=rr; fi
  t0=$(ms)
  printf -- '-A -f {mark} -s %s\\n-a -f {mark} -r {rs1} -g -w 1\\n-a -f {mark} -r {rs2} -g -w 1\\n' $s | ipvsadm -R
  nft add rule ip kd_steer pre ip daddr {vip} tcp dport 80 meta mark set {mark}
  ipvsadm -E -t {vip}:80 -s $s
  nft flush chain ip kd_steer pre
  t1=$(ms)
  n=0
  while [ $n -lt 150 ]; do
    active=$(ipvsadm -Ln -f {mark} | awk '$1 == "->" && $2 ~ /:/ {{ a += $5 }} END {{ print a + 0 }}')
    [ "$active" -eq 0 ] && break
    n=$((n + 1)); sleep 0.1
  done
  ipvsadm -D -f {mark}
  t2=$(ms)
  echo "detour $((t1 - t0)) $((t2 - t0)) $active"
  echo "change $t0 $t2"
  i=$((i + 1)); sleep 2
done
nft delete table ip kd_steer
"""


def docker(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    # a block's changes run in one exec: 16 detours took over 600 s on a busy guest
    proc = subprocess.run(["docker", *argv], input=stdin, capture_output=True, text=True, timeout=3600, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(argv[:3])}...: rc {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def on(node: str, script: str, check: bool = True) -> str:
    return docker("exec", "-i", PREFIX + node, "sh", "-s", stdin=script, check=check)


def up() -> bool:
    """Create the network when missing (True: this run created it) and the four containers, set up by hand."""
    created = False
    if not docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$"):
        docker("network", "create", "--subnet", f"{SUBNET}.0/24", NETWORK)
        created = True
    for node, address in NODES.items():
        docker("run", "-d", "--name", PREFIX + node, "--hostname", PREFIX + node, "--network", NETWORK,
               "--ip", address, "--privileged", IMAGE, "sleep", "infinity")
    for rs in ("rs1", "rs2"):
        on(rs, f"""set -e
for k in all.arp_ignore=1 eth0.arp_ignore=1 all.arp_announce=2 eth0.arp_announce=2; do
  sysctl -qw net.ipv4.conf.$k
done
ip addr add {VIP}/32 dev lo
printf '<html><body><p id="realserver">{rs} {NODES[rs]}</p></body></html>\\n' > /var/www/html/index.html
apache2ctl start
""")
    on("director", f"""set -e
ip addr add {VIP}/32 dev eth0
ipvsadm -A -t {VIP}:80 -s rr
ipvsadm -a -t {VIP}:80 -r {NODES["rs1"]}:80 -g -w 1
ipvsadm -a -t {VIP}:80 -r {NODES["rs2"]}:80 -g -w 1
""")
    docker("cp", str(LOAD_CLIENT), f"{PREFIX}client:/root/load_client.py")
    # the servers answer through the VIP before any load starts
    for _ in range(60):
        probe = on("client", f"python3 -c \"import urllib.request as u; print(u.urlopen('http://{VIP}/', timeout=2)"
                             ".read().decode())\"", check=False)
        if "realserver" in probe:
            return created
        time.sleep(1)
    raise RuntimeError(f"no answer through {VIP}:80")


def down(created_network: bool) -> None:
    for node in NODES:
        docker("rm", "-f", PREFIX + node, check=False)
    if created_network:
        docker("network", "rm", NETWORK, check=False)  # fails (and stays) while another run uses it


def block(method: str, changes: int) -> dict[str, Any]:
    """One load, ``changes`` scheduler changes by ``method``, the counts."""
    on("client", "rm -f /tmp/kd-stop")
    load = subprocess.Popen(["docker", "exec", PREFIX + "client", "python3", "/root/load_client.py", VIP, "3000",
                             "/tmp/kd-stop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    started = time.monotonic()
    template = {"none": NONE, "plain": PLAIN, "detour": DETOUR}[method]
    output = on("director", template.format(changes=changes, vip=VIP, mark=MARK, rs1=NODES["rs1"] + ":80",
                                            rs2=NODES["rs2"] + ":80"))
    seconds = time.monotonic() - started
    time.sleep(2)
    on("client", "touch /tmp/kd-stop")
    stdout, stderr = load.communicate(timeout=120)
    if load.returncode != 0:
        raise RuntimeError(f"load_client: rc {load.returncode}: {stderr[-2000:]}")
    counts = json.loads(stdout)
    detours = [line.split()[1:] for line in output.splitlines() if line.startswith("detour ")]
    result = {"method": method, "changes": changes, "seconds": round(seconds, 1), **counts}
    # a failure counts against a change when it happened from its start to 6 s after its end (the client's
    # timeout is 5 s); the others happened between the changes
    windows = [(int(w[1]) / 1000, int(w[2]) / 1000 + 6) for w in
               (line.split() for line in output.splitlines() if line.startswith("change "))]
    result["failed_near_a_change"] = sum(any(start <= at <= end for start, end in windows)
                                         for at in counts["failure_times"])
    if detours:
        result["steered_ms"] = [int(d[0]) for d in detours]
        result["detour_ms"] = [int(d[1]) for d in detours]
        result["mark_service_active_left"] = [int(d[2]) for d in detours]
    table = on("director", f"ipvsadm -E -t {VIP}:80 -s rr && ipvsadm -Ln")  # after the load: not counted
    if f"TCP  {VIP}:80 rr" not in table or "FWM" in table:
        raise RuntimeError(f"the table is not back as it was:\n{table}")
    return result


def write(blocks: list[dict[str, Any]], kernel: str) -> None:
    """Print the totals so far and write them with every block, the date and the commit."""
    totals = {}
    for method in METHODS:
        mine = [b for b in blocks if b["method"] == method]
        totals[method] = {key: sum(b[key] for b in mine) for key in
                          ("changes", "requests", "failed", "failed_near_a_change", "keepalive_connections",
                           "keepalive_broken")}
        print(f"{method:6} total: {totals[method]['failed']} failed of {totals[method]['requests']} requests in "
              f"{totals[method]['changes']} changes, {totals[method]['keepalive_broken']} broken of "
              f"{totals[method]['keepalive_connections']} keep-alive connections", flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    RESULTS.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit, "kernel": kernel,
        "schedulers": list(SCHEDULERS), "totals": totals, "blocks": blocks}, indent=2, sort_keys=True) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=12, help="scheduler changes per block (default 12)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of (none, plain, detour) (default 2)")
    parser.add_argument("--keep", action="store_true", help="leave the containers for a look")
    args = parser.parse_args()
    created = False
    blocks: list[dict[str, Any]] = []
    try:
        created = up()
        kernel = on("director", "uname -r").strip()
        for round_ in range(1, args.rounds + 1):
            for method in METHODS:
                result = block(method, args.changes)
                result["round"] = round_
                blocks.append(result)
                print(f"round {round_} {method:6}: {result['failed']} failed of {result['requests']} requests "
                      f"({result['failed_near_a_change']} near a change; {result['errors']}), "
                      f"{result['keepalive_broken']} broken of {result['keepalive_connections']} keep-alive "
                      f"connections, {args.changes} changes in {result['seconds']} s"
                      + (f"; detour {min(result['detour_ms'])}-{max(result['detour_ms'])} ms "
                         f"(steered {min(result['steered_ms'])}-{max(result['steered_ms'])} ms)"
                         if "detour_ms" in result else ""), flush=True)
                if result["samples"]:
                    print("  " + "\n  ".join(result["samples"]), flush=True)
                write(blocks, kernel)  # after every block: a later failure keeps what was measured
    finally:
        if not args.keep:
            down(created)
    return 0


if __name__ == "__main__":
    sys.exit(main())
