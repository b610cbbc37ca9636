"""Watch a virtual service's real servers in the kernel's IPVS table, with the time of every change.

Usage: python3 table_watch.py VIP PORT SECONDS STOP_FILE

Reads /proc/net/ip_vs every 0.1 s (no process started per look) until SECONDS have passed or STOP_FILE
exists. Prints JSON: a list of [time, {"RIP:PORT": weight}] at the start and at each change, the time in
seconds since the epoch on the node's clock (the clock every container on the engine shares).
"""

import ipaddress
import json
import os
import sys
import time

VIP, PORT, SECONDS, STOP = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
WANTED = f"{int(ipaddress.IPv4Address(VIP)):08X}:{PORT:04X}"


def real_servers() -> dict:
    found: dict = {}
    inside = False
    with open("/proc/net/ip_vs", encoding="ascii") as table:
        for line in table:
            fields = line.split()
            if line.startswith(("TCP", "UDP", "SCTP", "FWM")):
                inside = fields[1] == WANTED
            elif inside and fields and fields[0] == "->" and ":" in fields[1]:
                address, port = fields[1].split(":")
                found[f"{ipaddress.IPv4Address(int(address, 16))}:{int(port, 16)}"] = int(fields[3])
    return found


if os.path.exists(STOP):  # left by an earlier run
    os.remove(STOP)
end = time.monotonic() + SECONDS
changes: list = []
while time.monotonic() < end and not os.path.exists(STOP):
    now = real_servers()
    if not changes or changes[-1][1] != now:
        changes.append([round(time.time(), 3), now])
    time.sleep(0.1)
print(json.dumps(changes))
