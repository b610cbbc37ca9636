#!/usr/bin/env python3
"""Prove this network namespace can read and write a real IPVS table.

Talks generic netlink to the kernel directly, so it needs no ipvsadm:
resolves the IPVS family (the kernel loads ip_vs on demand where it is a
module), adds a firewall-mark service, finds it in /proc/net/ip_vs, deletes
it. Exit 0 and one JSON line on success; exit 1 and a reason otherwise.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 16
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
IPVS_CMD_NEW_SERVICE = 1
IPVS_CMD_DEL_SERVICE = 3
IPVS_CMD_ATTR_SERVICE = 1
SVC_AF, SVC_FWMARK, SVC_SCHED, SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK = 1, 5, 6, 7, 8, 9
NLA_F_NESTED = 1 << 15
PROBE_MARK = 0x1F5D_0001


def attr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * (-len(raw) % 4)


def request(sock: socket.socket, family: int, cmd: int, attrs: bytes, seq: int) -> bytes:
    # Version 1 is both the controller's and IPVS's generic netlink version.
    body = struct.pack("BBH", cmd, 1, 0) + attrs
    sock.send(struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
    return sock.recv(65536)


def check_ack(reply: bytes, what: str) -> None:
    offset = 0
    while offset < len(reply):
        length, kind = struct.unpack_from("IH", reply, offset)
        if kind == NLMSG_ERROR:
            (code,) = struct.unpack_from("i", reply, offset + 16)
            if code != 0:
                raise OSError(-code, f"{what}: {os.strerror(-code)}")
        offset += (length + 3) & ~3


def family_id(sock: socket.socket) -> int:
    reply = request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, attr(CTRL_ATTR_FAMILY_NAME, b"IPVS\0"), 1)
    length, kind = struct.unpack_from("IH", reply, 0)
    if kind == NLMSG_ERROR:
        check_ack(reply, "IPVS generic netlink family")
    offset = 16 + 4
    while offset < length:
        alen, akind = struct.unpack_from("HH", reply, offset)
        if akind == CTRL_ATTR_FAMILY_ID:
            return struct.unpack_from("H", reply, offset + 4)[0]
        offset += (alen + 3) & ~3
    raise OSError("IPVS family id missing from the kernel's answer")


def service(mark: int, full: bool) -> bytes:
    inner = attr(SVC_AF, struct.pack("H", socket.AF_INET)) + attr(SVC_FWMARK, struct.pack("I", mark))
    if full:
        inner += (attr(SVC_SCHED, b"rr\0") + attr(SVC_FLAGS, struct.pack("II", 0, 0))
                  + attr(SVC_TIMEOUT, struct.pack("I", 0)) + attr(SVC_NETMASK, b"\xff\xff\xff\xff"))
    return attr(IPVS_CMD_ATTR_SERVICE | NLA_F_NESTED, inner)


def listed(mark: int) -> bool:
    with open("/proc/net/ip_vs") as table:
        return any(line.split()[:2] == ["FWM", f"{mark:08X}"] for line in table)


def main() -> int:
    try:
        sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        fam = family_id(sock)
        check_ack(request(sock, fam, IPVS_CMD_NEW_SERVICE, service(PROBE_MARK, True), 2), "add probe service")
        seen = listed(PROBE_MARK)
        check_ack(request(sock, fam, IPVS_CMD_DEL_SERVICE, service(PROBE_MARK, False), 3), "delete probe service")
        gone = not listed(PROBE_MARK)
    except OSError as exc:
        print(f"IPVS unavailable in this kernel/namespace: {exc}", file=sys.stderr)
        return 1
    if not (seen and gone):
        print(f"IPVS table did not reflect the probe (listed={seen}, removed={gone})", file=sys.stderr)
        return 1
    with open("/proc/net/ip_vs") as table:
        version = table.readline().strip()
    print(json.dumps({"ipvs": version, "write": True, "read": True}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
