#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One read of the IPVS table, timed, inside a privileged container of the test bed (issue 13).

    python3 read.py MODE      (PYTHONPATH: the directory holding ``ansible_collections``, and this one)

MODE is one of:

* ``ipvsadm``: what ``Ipvsadm.read_table`` did before: ``ipvsadm -Ln --thresholds`` parsed, /proc/net/ip_vs
  parsed and merged, and ``ipvsadm -Ln`` parsed and merged when that file disagrees;
* ``sockopt``: ``ipvs_sockopt.read_table()`` (what the modules read first now);
* ``netlink``: ``netlink_prototype.read_table()`` (generic netlink alone, not built in);
* ``netlink_raw``: the prototype's per-service IPVS_CMD_GET_DEST dumps alone, nothing decoded (the floor of
  any netlink reader);
* ``save``: one ``ipvsadm -Sn`` to /dev/null (the unit of the issue's bound);
* ``compare``: the sockopt and the ipvsadm models, in order, must be equal (prints ``equal`` or the first
  difference).

Prints the seconds of that one read (Python start-up and imports excluded; ipvsadm's process included).
``run.sh RULES REPS`` loads a table and runs the modes interleaved; ``gen.py N`` writes the table of
``benchmarks/ipvs_service.py`` (N TCP services in 198.18.0.0/15, 3 DR real servers each).
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time

import netlink_prototype
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_sockopt
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    merge_listings,
    merge_proc,
    parse_listing,
    parse_proc_ip_vs,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import IpvsTable


def listing(*args: str) -> str:
    return subprocess.run(["ipvsadm", "-L", "-n", *args], capture_output=True, text=True, check=True).stdout


def via_ipvsadm() -> IpvsTable:
    table = parse_listing(listing("--thresholds"), "thresholds")
    with open("/proc/net/ip_vs", encoding="utf-8") as handle:
        proc = handle.read()
    if not merge_proc(table, parse_proc_ip_vs(proc)):
        print("(ipvsadm -Ln read too)", file=sys.stderr)
        table = merge_listings(parse_listing(listing()), thresholds=table)
    return table


def netlink_raw() -> None:
    link = netlink_prototype.GenlSocket()
    family = link.family_id(netlink_prototype.IPVS_GENL_NAME)
    replies = link.request(family, netlink_prototype.CMD_GET_SERVICE, 1, dump=True)
    services = [netlink_prototype._service(netlink_prototype._nested(reply, 1)) for reply in replies]
    start = time.perf_counter()
    for svc in services:
        if svc is not None:
            link.request(family, netlink_prototype.CMD_GET_DEST, 1, netlink_prototype._selector(svc), dump=True)
    print(time.perf_counter() - start)


def main() -> None:
    gc.disable()  # as the module runs
    mode = sys.argv[1]
    if mode == "compare":
        old, new = via_ipvsadm().described(), ipvs_sockopt.read_table().described()
        first = next((pair for pair in zip(old, new) if pair[0] != pair[1]), None)
        print("equal" if old == new else f"DIFFERENT: {first}", len(old) - 2, "services")
        return
    if mode == "netlink_raw":
        netlink_raw()  # times only the dumps
        return
    runs = {
        "ipvsadm": via_ipvsadm,
        "sockopt": ipvs_sockopt.read_table,
        "netlink": netlink_prototype.read_table,
        "save": lambda: subprocess.run(["ipvsadm", "-S", "-n"], stdout=subprocess.DEVNULL, check=True),
    }
    start = time.perf_counter()
    runs[mode]()
    print(time.perf_counter() - start)


if __name__ == "__main__":
    main()
