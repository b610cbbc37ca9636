"""A real server's boot seen from inside: when its web server first answers, were its ARP settings
and its VIP already there?

Usage: python3 boot_watch.py IFACE VIP SECONDS

Every 20 ms, until the web server has answered for a second or SECONDS have passed, reads
arp_ignore/arp_announce of conf.all and conf.IFACE (the kernel uses the larger), whether VIP is a
local address (a bind to it succeeds only then), and whether the web server answers a GET on
127.0.0.1:80. Prints JSON: every change of that state with its time (seconds since the start),
the number of samples, and the samples in which the web server answered without the ARP settings
(arp_ignore >= 1 and arp_announce = 2) or without the VIP.
"""

import json
import socket
import sys
import time

IFACE, VIP, SECONDS = sys.argv[1], sys.argv[2], float(sys.argv[3])


def sysctl(name: str) -> int:
    values = []
    for conf in ("all", IFACE):
        try:
            with open(f"/proc/sys/net/ipv4/conf/{conf}/{name}", encoding="ascii") as handle:
                values.append(int(handle.read()))
        except OSError:
            values.append(0)  # the interface is not there yet
    return max(values)


def has_vip() -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((VIP, 0))
        except OSError:
            return False
    return True


def web_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 80), timeout=0.5) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.")
    except OSError:
        return False


start = time.monotonic()
changes: list = []
violations: list = []
samples = 0
answered_at = None
state = None
while time.monotonic() - start < SECONDS:
    now = round(time.monotonic() - start, 3)
    current = {"arp_ignore": sysctl("arp_ignore"), "arp_announce": sysctl("arp_announce"),
               "vip": has_vip(), "web": web_answers()}
    samples += 1
    if current != state:
        changes.append(dict(current, t=now))
        state = current
    if current["web"]:
        if current["arp_ignore"] < 1 or current["arp_announce"] != 2 or not current["vip"]:
            violations.append(dict(current, t=now))
        answered_at = answered_at if answered_at is not None else now
        if now - answered_at > 1:
            break
    time.sleep(0.02)
print(json.dumps({"samples": samples, "changes": changes, "violations": violations}))
