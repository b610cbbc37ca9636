#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client-port reuse against a drained or removed real server, per IPVS sysctl setting, counted.

Usage (from the repository root)::

    source <(tools/labhost env)        # a Docker engine whose kernel has IPVS
    benchmarks/ipvs_port_reuse.py [--settings 1,0 2,0 1,1 2,1] [--warm 25] [--drain 60] [--removed 60] [--keep]

Containers of its own on the network ``lvs-dr-ns`` (172.31.210.0/24, created when missing, removed when it
created it): ``ns-client``, ``ns-director``, ``ns-rs1``, ``ns-rs2`` (image ``lvs-dr/node:debian12``, started
with ``sleep infinity``, set up by hand as the guide's lab: VIP on the real servers' ``lo`` with
arp_ignore=1/arp_announce=2 and apache2, VIP on the director's eth0, ``-A -t VIP:80 -s rr`` with both servers
``-g -w 1``). The client's ephemeral ports are ``--ports`` (default 40000-40999), so that its ports come round
in seconds under the load and new connections reuse the ports of the director's FIN_WAIT entries (in Direct
Routing the director sees only the client's packets: an entry ends in FIN_WAIT and stays 120 s), and
``net.ipv4.tcp_tw_reuse=1``, so that the client's own TIME_WAIT sockets do not run it out of ports (a first
run with 500 ports and without it had a burst of ``EADDRNOTAVAIL`` on the client).

Per setting ``conn_reuse_mode,expire_nodest_conn`` (net.ipv4.vs.*, set on a fresh director: a new container
is a new network namespace with an empty connection table), under one load from the client
(``extensions/molecule/default/load_client.py``: 3 workers with a new connection per request, 2 with
keep-alive connections of 8 s):

* warm-up ``--warm`` s;
* **A (drain)**: rs1 to weight 0; rs1's entries (``ipvsadm -Lnc``, all states) counted every 2 s for at most
  ``--drain`` s: the time until none is left, or how many are left; the failures in that window;
* rs1 back to weight 1, ``--warm`` s again (rs1 gets its share of entries back);
* **C (established)**: a probe on the client opens keep-alive connections until one lands on rs1 and sends a
  request on it every second (timeout 5 s);
* **B (removed)**: ``ipvsadm -d`` rs1 (it still has FIN_WAIT entries); the failures in the next ``--removed``
  s, the entries of rs1 left then, and what happened to the probe's connection (how long after the removal,
  which error).

A failure counts in a window by the time its request started. Prints the figures and writes
``benchmarks/results/ipvs_port_reuse.json`` with the date and commit (after every setting). Asserts nothing.
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
RESULTS = ROOT / "benchmarks" / "results" / "ipvs_port_reuse.json"
LOAD_CLIENT = ROOT / "extensions" / "molecule" / "default" / "load_client.py"
IMAGE = "lvs-dr/node:debian12"
NETWORK = "lvs-dr-ns"
SUBNET = "172.31.210"
PREFIX = "ns-"
NODES = {"client": f"{SUBNET}.20", "director": f"{SUBNET}.21", "rs1": f"{SUBNET}.22", "rs2": f"{SUBNET}.23"}
# one VIP per setting: its connection table starts empty (entries are keyed by the VIP too)
VIPS = [f"{SUBNET}.{160 + i}" for i in range(8)]
RS1 = f"{NODES['rs1']}:80"

# The established connection: keep-alive connections until one lands on rs1, then a request every second.
PROBE = r"""
import http.client, json, os, re, sys, time
vip = sys.argv[1]
out = {"attempts": 0, "ok_after_ready": 0}
while True:
    out["attempts"] += 1
    conn = http.client.HTTPConnection(vip, 80, timeout=5)
    conn.request("GET", "/", headers={"Connection": "keep-alive"})
    page = conn.getresponse().read().decode()
    if "rs1" in page:
        break
    conn.close()
    time.sleep(0.2)
port = conn.sock.getsockname()[1]
out["port"] = port
open("/tmp/probe-ready", "w").close()
while not os.path.exists("/tmp/probe-stop"):
    time.sleep(1)
    started = time.time()
    try:
        conn.request("GET", "/", headers={"Connection": "keep-alive"})
        page = conn.getresponse().read().decode()
        if conn.sock is None or conn.sock.getsockname()[1] != port:
            raise OSError("reconnected")
        out["ok_after_ready"] += 1
        out["last_ok"] = round(started, 3)
    except Exception as exc:
        out["error"] = repr(exc)[:200]
        out["error_started"] = round(started, 3)
        out["error_at"] = round(time.time(), 3)
        break
print(json.dumps(out))
"""


def docker(*argv: str, check: bool = True, stdin: str | None = None) -> str:
    proc = subprocess.run(["docker", *argv], input=stdin, capture_output=True, text=True, timeout=900, check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(argv[:3])}...: rc {proc.returncode}: {proc.stderr.strip()}")
    return proc.stdout


def on(node: str, script: str, check: bool = True) -> str:
    return docker("exec", "-i", PREFIX + node, "sh", "-s", stdin=script, check=check)


def run(node: str, address: str) -> None:
    docker("run", "-d", "--name", PREFIX + node, "--hostname", PREFIX + node, "--network", NETWORK,
           "--ip", address, "--privileged", "--entrypoint", "sleep", IMAGE, "infinity")


def up(ports: str) -> bool:
    """The network when missing (True: this run created it), the client and the two real servers."""
    created = False
    if not docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$"):
        docker("network", "create", "--subnet", f"{SUBNET}.0/24", NETWORK)
        created = True
    for node, address in NODES.items():
        run(node, address)
    for rs in ("rs1", "rs2"):
        on(rs, f"""set -e
for k in all.arp_ignore=1 eth0.arp_ignore=1 all.arp_announce=2 eth0.arp_announce=2; do
  sysctl -qw net.ipv4.conf.$k
done
for vip in {" ".join(VIPS)}; do ip addr add $vip/32 dev lo; done
printf '<html><body><p id="realserver">{rs} {NODES[rs]}</p></body></html>\\n' > /var/www/html/index.html
apache2ctl start
""")
    low, high = ports.split("-")
    # tcp_tw_reuse: the client's own TIME_WAIT sockets (it closes first) must not run it out of ports
    on("client", f"sysctl -qw net.ipv4.ip_local_port_range='{low} {high}' net.ipv4.tcp_tw_reuse=1")
    docker("cp", str(LOAD_CLIENT), f"{PREFIX}client:/root/load_client.py")
    docker("exec", "-i", PREFIX + "client", "sh", "-c", "cat > /root/probe.py", stdin=PROBE)
    return created


def director(reuse: int, nodest: int, vip: str) -> None:
    """The service on a VIP of its own (an empty connection table), the sysctls set before it exists."""
    on("director", f"""set -e
ipvsadm -C
ip addr flush dev eth0 scope global to {SUBNET}.128/25
sysctl -qw net.ipv4.vs.conn_reuse_mode={reuse} net.ipv4.vs.expire_nodest_conn={nodest}
ip addr add {vip}/32 dev eth0
ipvsadm -A -t {vip}:80 -s rr
ipvsadm -a -t {vip}:80 -r {RS1} -g -w 1
ipvsadm -a -t {vip}:80 -r {NODES["rs2"]}:80 -g -w 1
""")
    for _ in range(60):
        probe = on("client", f"python3 -c \"import urllib.request as u; "
                             f"print(u.urlopen('http://{vip}/', timeout=2).read().decode())\"", check=False)
        if "realserver" in probe:
            return
        time.sleep(1)
    raise RuntimeError(f"no answer through {vip}:80")


def at(node: str, script: str) -> float:
    """Run ``script`` on ``node``; the guest's clock (epoch s) just before it ran (the client's clock too)."""
    return float(on(node, f"date +%s.%N\n{script}").split()[0])


def entries() -> dict[str, Any]:
    """rs1's connection entries by state, the total of the table, and the guest's clock."""
    out = on("director", "date +%s.%N; ipvsadm -Lnc")
    states: dict[str, int] = {}
    total = 0
    for line in out.splitlines():
        cols = line.split()
        if len(cols) >= 6 and cols[0] == "TCP":
            total += 1
            if cols[5] == RS1:
                states[cols[2]] = states.get(cols[2], 0) + 1
    return {"rs1_" + k: v for k, v in sorted(states.items())} | {"rs1": sum(states.values()), "table": total,
                                                                 "at": float(out.split()[0])}


def window(events: list, start: float, end: float) -> dict[str, Any]:
    mine = [e for e in events if e[1] == "failed" and start <= e[3] < end]
    broken = [e for e in events if e[1] == "keepalive_broken" and start <= e[3] < end]
    kinds: dict[str, int] = {}
    for e in mine + broken:
        kinds[e[2]] = kinds.get(e[2], 0) + 1
    return {"failed": len(mine), "keepalive_broken": len(broken), "kinds": kinds,
            "last_failure_after_s": round(max(e[3] for e in mine) - start, 1) if mine else None}


def setting(reuse: int, nodest: int, vip: str, args: argparse.Namespace) -> dict[str, Any]:
    director(reuse, nodest, vip)
    on("client", "rm -f /tmp/ns-stop /tmp/probe-ready /tmp/probe-stop")
    load = subprocess.Popen(["docker", "exec", PREFIX + "client", "python3", "/root/load_client.py", vip, "3000",
                             "/tmp/ns-stop"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result: dict[str, Any] = {"conn_reuse_mode": reuse, "expire_nodest_conn": nodest, "vip": vip}
    t0 = at("client", "true")  # the times below are the guest's (a docker exec takes seconds on a busy guest)
    time.sleep(args.warm)
    result["before_drain"] = entries()
    # A: weight 0
    started = time.monotonic()
    ta = at("director", f"ipvsadm -e -t {vip}:80 -r {RS1} -g -w 0")
    drained = None
    left = result["before_drain"]
    while time.monotonic() - started < args.drain:
        time.sleep(2)
        left = entries()
        if left["rs1"] == 0:
            drained = round(left["at"] - ta, 1)
            break
    ta_end = at("director", f"ipvsadm -e -t {vip}:80 -r {RS1} -g -w 1")
    result["A"] = {"drained_after_s": drained, "left": left, "seconds": round(ta_end - ta, 1)}
    time.sleep(args.warm)
    # C: an established keep-alive connection on rs1
    probe = subprocess.Popen(["docker", "exec", PREFIX + "client", "python3", "/root/probe.py", vip],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(60):
        if on("client", "test -e /tmp/probe-ready && echo yes", check=False).strip() == "yes":
            break
        time.sleep(0.5)
    time.sleep(2)
    result["before_remove"] = entries()
    # B: removed
    tb = at("director", f"ipvsadm -d -t {vip}:80 -r {RS1}")
    time.sleep(args.removed)
    result["B_left"] = entries()
    tb_end = at("client", "touch /tmp/ns-stop /tmp/probe-stop")
    stdout, stderr = load.communicate(timeout=120)
    if load.returncode != 0:
        raise RuntimeError(f"load_client: rc {load.returncode}: {stderr[-2000:]}")
    pout, perr = probe.communicate(timeout=60)
    return figures(result, json.loads(stdout), pout, perr, (t0, ta, ta_end, tb, tb_end))


def figures(result: dict[str, Any], counts: dict[str, Any], pout: str, perr: str,
            times: tuple[float, ...]) -> dict[str, Any]:
    """The load's and the probe's counts, by window."""
    t0, ta, ta_end, tb, tb_end = times
    events = counts["failure_events"]
    result["load"] = {k: counts[k] for k in ("requests", "failed", "keepalive_connections", "keepalive_broken",
                                              "errors", "servers", "samples")}
    # [epoch s, failed or keepalive_broken, kind, started - the removal s]: what failed when
    result["failures_from_removal"] = [[e[1], e[2], round(e[3] - tb, 1)] for e in events]
    result["requests_per_s"] = round(counts["requests"] / (tb_end - t0), 1)
    result["warm"] = window(events, 0, ta)
    result["A"] |= window(events, ta, ta_end)
    result["B"] = window(events, tb, tb_end) | {"seconds": round(tb_end - tb, 1)}
    c = json.loads(pout) if pout.strip() else {"probe_failed": perr[-500:]}
    if "last_ok" in c:
        c["last_ok_after_removal_s"] = round(c["last_ok"] - tb, 1)
    if "error_at" in c:
        c["error_after_removal_s"] = round(c["error_at"] - tb, 1)
        c["request_started_after_removal_s"] = round(c["error_started"] - tb, 1)
    elif "last_ok" in c:
        c["still_ok_after_removal_s"] = round(c["last_ok"] - tb, 1)
    result["C"] = c
    return result


def show(r: dict[str, Any]) -> None:
    a, b, c = r["A"], r["B"], r["C"]
    print(f"({r['conn_reuse_mode']},{r['expire_nodest_conn']}) {r['load']['requests']} requests "
          f"({r['requests_per_s']}/s), warm-up failed {r['warm']['failed']}", flush=True)
    print(f"  A weight 0: {a['failed']} failed, rs1 entries {r['before_drain']['rs1']} -> "
          + (f"0 after {a['drained_after_s']} s" if a["drained_after_s"] is not None
             else f"{a['left']['rs1']} left after {a['seconds']} s ({a['left']})")
          + f"; kinds {a['kinds']}", flush=True)
    print(f"  B removed: {b['failed']} failed in {b['seconds']} s (last {b['last_failure_after_s']} s after), "
          f"{b['keepalive_broken']} keep-alive broken, kinds {b['kinds']}; rs1 entries "
          f"{r['before_remove']['rs1']} -> {r['B_left']['rs1']}", flush=True)
    print(f"  C established on rs1: {c.get('error', 'no error')}"
          + (f" {c['error_after_removal_s']} s after the removal (request sent at "
             f"{c['request_started_after_removal_s']} s)" if "error_after_removal_s" in c else
             f", still answering {c.get('still_ok_after_removal_s')} s after"), flush=True)


def write(results: list[dict[str, Any]], kernel: str, args: argparse.Namespace) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                            check=False).stdout.strip()
    RESULTS.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit, "kernel": kernel,
        "ports": args.ports, "warm_s": args.warm, "drain_s": args.drain, "removed_s": args.removed,
        "settings": results}, indent=2, sort_keys=True) + "\n")
    print(f"written {RESULTS.relative_to(ROOT)}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", nargs="+", default=["1,0", "2,0", "1,1", "2,1"],
                        help="conn_reuse_mode,expire_nodest_conn pairs (default 1,0 2,0 1,1 2,1)")
    parser.add_argument("--ports", default="40000-40999", help="the client's ephemeral port range")
    parser.add_argument("--warm", type=float, default=25, help="load before each event (s)")
    parser.add_argument("--drain", type=float, default=60, help="the longest wait for rs1's entries (s)")
    parser.add_argument("--removed", type=float, default=60, help="load after the removal (s)")
    parser.add_argument("--keep", action="store_true", help="leave the containers for a look")
    args = parser.parse_args()
    created = False
    results: list[dict[str, Any]] = []
    try:
        created = up(args.ports)
        kernel = on("client", "uname -r").strip()
        for vip, pair in zip(VIPS, args.settings):
            reuse, nodest = (int(x) for x in pair.split(","))
            results.append(setting(reuse, nodest, vip, args))
            show(results[-1])
            write(results, kernel, args)
    finally:
        if not args.keep:
            for node in NODES:
                docker("rm", "-f", PREFIX + node, check=False)
            if created:
                docker("network", "rm", NETWORK, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
