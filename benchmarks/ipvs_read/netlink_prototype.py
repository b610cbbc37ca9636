# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PROTOTYPE (benchmarks only, not used by the collection): the IPVS table over generic netlink alone.

Measured against ipvsadm and against plugins/module_utils/ipvs_sockopt.py by ``read.py`` beside it (issue 13,
benchmarks/README.md): the per-service IPVS_CMD_GET_DEST dumps cost about as much in the kernel as ipvsadm's
own, so this was not built into the modules.

ipvsadm reads the table with the same requests (family ``IPVS``: one ``IPVS_CMD_GET_SERVICE`` dump, then one
``IPVS_CMD_GET_DEST`` dump per service) and prints text that :mod:`ipvs_format` parses back. Here the
attributes are decoded into the :mod:`ipvs_model` dataclasses directly, the same model
``parse_listing(ipvsadm -Ln --thresholds)`` merged with ``/proc/net/ip_vs`` gives.

Attribute numbers are those of the kernel's ``include/uapi/linux/ip_vs.h`` and ``linux/genetlink.h``.
Anything this reader does not expect (no netlink, no IPVS family, an error reply, a truncated message)
raises :class:`NetlinkError` and no table is returned, so the caller can read through ipvsadm instead.
"""

from __future__ import annotations

import os
import socket
import struct
from typing import Optional

from ansible_collections.lvs.dr.plugins.module_utils.addresses import IPV4, IPV6, normalize_ip
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    FWMARK,
    IpvsTable,
    RealServer,
    ServiceKey,
    VirtualService,
)

NETLINK_GENERIC = 16
# netlink message header and flags (linux/netlink.h)
_NLMSG = struct.Struct("=IHHII")  # length, type, flags, sequence, port id
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_NLM_F_REQUEST = 0x1
_NLM_F_ACK = 0x4
_NLM_F_DUMP = 0x300
_NLA = struct.Struct("=HH")  # length, type
_NLA_TYPE_MASK = 0x3FFF  # without NLA_F_NESTED and NLA_F_NET_BYTEORDER
_GENL = struct.Struct("=BBH")  # command, version, reserved
# the generic netlink controller (linux/genetlink.h)
_GENL_ID_CTRL = 0x10
_CTRL_CMD_GETFAMILY = 3
_CTRL_ATTR_FAMILY_ID = 1
_CTRL_ATTR_FAMILY_NAME = 2

IPVS_GENL_NAME = "IPVS"
_IPVS_GENL_VERSION = 1
# commands (enum in ip_vs.h)
_CMD_GET_SERVICE = 4
_CMD_GET_DEST = 8
_CMD_GET_INFO = 15
_CMD_ATTR_SERVICE = 1
# service attributes (IPVS_SVC_ATTR_*)
_SVC_AF = 1
_SVC_PROTOCOL = 2
_SVC_ADDR = 3
_SVC_PORT = 4
_SVC_FWMARK = 5
_SVC_SCHED_NAME = 6
_SVC_FLAGS = 7
_SVC_TIMEOUT = 8
_SVC_NETMASK = 9
_SVC_PE_NAME = 11
# destination attributes (IPVS_DEST_ATTR_*)
_DEST_ADDR = 1
_DEST_PORT = 2
_DEST_FWD_METHOD = 3
_DEST_WEIGHT = 4
_DEST_U_THRESH = 5
_DEST_L_THRESH = 6
_DEST_ACTIVE_CONNS = 7
_DEST_INACT_CONNS = 8
_DEST_ADDR_FAMILY = 11
# IPVS_INFO_ATTR_*
_INFO_VERSION = 1
_INFO_CONN_TAB_SIZE = 2
# service flags (IP_VS_SVC_F_*)
_F_PERSISTENT = 0x0001
_F_ONEPACKET = 0x0004
_F_SCHED1 = 0x0008
_F_SCHED2 = 0x0010
_F_SCHED3 = 0x0020
# scheduler flag names as ipvsadm prints them (print_sched_flags in ipvsadm.c)
_SCHED_FLAG_NAMES = {
    "sh": ((_F_SCHED1, "sh-fallback"), (_F_SCHED2, "sh-port"), (_F_SCHED3, "flag-3")),
    "mh": ((_F_SCHED1, "mh-fallback"), (_F_SCHED2, "mh-port"), (_F_SCHED3, "flag-3")),
}
_GENERIC_FLAG_NAMES = ((_F_SCHED1, "flag-1"), (_F_SCHED2, "flag-2"), (_F_SCHED3, "flag-3"))
# IP_VS_CONN_F_FWD_MASK values -> the model's names (as LISTING_FORWARDING maps ipvsadm's words)
_FORWARDING = {0: "nat", 1: "local", 2: "tunnel", 3: "dr"}
_PROTOCOLS = {6: "tcp", 17: "udp", 132: "sctp"}
_PROTOCOL_NUMBERS = {name: number for number, name in _PROTOCOLS.items()}
_FAMILIES = {socket.AF_INET: IPV4, socket.AF_INET6: IPV6}
_AF = {IPV4: socket.AF_INET, IPV6: socket.AF_INET6}
_U16 = struct.Struct("=H")
_U32 = struct.Struct("=I")
_BE16 = struct.Struct("!H")
_RECV_SIZE = 1 << 16


class NetlinkError(LvsDrError):
    """The table could not be read over netlink (or the reply was not what this reader expects)."""


def _attrs(data: bytes, start: int, end: int) -> dict[int, bytes]:
    """The attributes in ``data[start:end]`` by type (the last one of a type wins, as nla_parse does)."""
    found: dict[int, bytes] = {}
    unpack = _NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4 or start + length > end:
            raise NetlinkError(f"malformed netlink attribute (length {length})")
        found[kind & _NLA_TYPE_MASK] = data[start + 4 : start + length]
        start += (length + 3) & ~3
    return found


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return _NLA.pack(length, kind) + payload + b"\0" * (-length & 3)


def _address(family: str, raw: bytes) -> str:
    if family == IPV4:
        return socket.inet_ntoa(raw[:4])
    return normalize_ip(socket.inet_ntop(socket.AF_INET6, raw[:16]))


class GenlSocket:
    """One generic netlink socket: requests out, reply messages (command payloads) back."""

    def __init__(self) -> None:
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
            self.sock.bind((0, 0))
        except (OSError, AttributeError) as exc:  # AttributeError: a platform without AF_NETLINK
            raise NetlinkError(f"no generic netlink socket: {exc}") from None
        self.seq = 0
        self.buffer = bytearray(_RECV_SIZE)

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> GenlSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, family: int, command: int, version: int, payload: bytes = b"", dump: bool = False) -> list[bytes]:
        """Send one request; the replies' bodies after the generic netlink header, until DONE or the ACK."""
        self.seq += 1
        seq = self.seq
        flags = _NLM_F_REQUEST | (_NLM_F_DUMP if dump else _NLM_F_ACK)
        body = _GENL.pack(command, version, 0) + payload
        try:
            self.sock.send(_NLMSG.pack(_NLMSG.size + len(body), family, flags, seq, 0) + body)
        except OSError as exc:
            raise NetlinkError(f"netlink send failed: {exc}") from None
        replies: list[bytes] = []
        view = memoryview(self.buffer)
        unpack = _NLMSG.unpack_from
        while True:
            try:
                size = self.sock.recv_into(view)
            except OSError as exc:
                raise NetlinkError(f"netlink receive failed: {exc}") from None
            data = bytes(view[:size])
            offset = 0
            while offset + 16 <= size:
                length, kind, _flags, reply_seq, _port = unpack(data, offset)
                if length < 16 or offset + length > size:
                    raise NetlinkError(f"truncated netlink message ({length} bytes)")
                if reply_seq != seq:
                    raise NetlinkError(f"netlink reply to request {reply_seq}, expected {seq}")
                if kind in (_NLMSG_DONE, _NLMSG_ERROR):
                    error = struct.unpack_from("=i", data, offset + 16)[0] if length >= 20 else 0
                    if error:
                        raise NetlinkError(f"netlink request {command} failed: {os.strerror(-error)}")
                    return replies
                replies.append(data[offset + 20 : offset + length])
                offset += (length + 3) & ~3

    def family_id(self, name: str) -> int:
        """The id of a generic netlink family (CTRL_CMD_GETFAMILY)."""
        replies = self.request(
            _GENL_ID_CTRL, _CTRL_CMD_GETFAMILY, 1, _attr(_CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
        )
        for reply in replies:
            found = _attrs(reply, 0, len(reply)).get(_CTRL_ATTR_FAMILY_ID)
            if found is not None:
                return int(_U16.unpack_from(found)[0])
        raise NetlinkError(f"no generic netlink family {name}")


def _service(attrs: dict[int, bytes]) -> Optional[VirtualService]:
    """A service from its IPVS_SVC_ATTR_* (None for a protocol ipvsadm lists as ``?``)."""
    family = _FAMILIES.get(_U16.unpack(attrs[_SVC_AF])[0])
    if family is None:
        raise NetlinkError("service of an unknown address family")
    mark = _U32.unpack(attrs[_SVC_FWMARK])[0] if _SVC_FWMARK in attrs else 0
    if mark:
        key = ServiceKey(FWMARK, family, fwmark=mark)
    else:
        protocol = _PROTOCOLS.get(_U16.unpack(attrs[_SVC_PROTOCOL])[0])
        if protocol is None:
            return None
        port = _BE16.unpack(attrs[_SVC_PORT])[0]
        key = ServiceKey(protocol, family, _address(family, attrs[_SVC_ADDR]), port)
    scheduler = attrs[_SVC_SCHED_NAME].split(b"\0", 1)[0].decode()
    flags = _U32.unpack_from(attrs[_SVC_FLAGS])[0]
    svc = VirtualService(key, scheduler)
    names = _SCHED_FLAG_NAMES.get(scheduler, _GENERIC_FLAG_NAMES)
    svc.scheduler_flags = tuple(sorted(name for bit, name in names if flags & bit))
    if flags & _F_PERSISTENT:
        svc.persistence_timeout = _U32.unpack(attrs[_SVC_TIMEOUT])[0]
        raw = attrs[_SVC_NETMASK]
        # IPv4: the mask in network order; IPv6: the prefix length (ip_vs_ctl.c stores both in one __be32)
        svc.persistence_netmask = socket.inet_ntoa(raw) if family == IPV4 else str(_U32.unpack(raw)[0])
    svc.one_packet = bool(flags & _F_ONEPACKET)
    pe_name = attrs.get(_SVC_PE_NAME, b"").split(b"\0", 1)[0]
    svc.persistence_engine = pe_name.decode() if pe_name else None
    return svc


def _selector(svc: VirtualService) -> bytes:
    """IPVS_CMD_ATTR_SERVICE naming one service (what ip_vs_genl_parse_service needs to find it)."""
    key = svc.key
    inner = _attr(_SVC_AF, _U16.pack(_AF[key.family]))
    if key.is_fwmark:
        inner += _attr(_SVC_FWMARK, _U32.pack(key.fwmark))
    else:
        family = socket.AF_INET if key.family == IPV4 else socket.AF_INET6
        inner += (
            _attr(_SVC_PROTOCOL, _U16.pack(_PROTOCOL_NUMBERS[key.protocol]))
            + _attr(_SVC_ADDR, socket.inet_pton(family, key.address).ljust(16, b"\0"))
            + _attr(_SVC_PORT, _BE16.pack(key.port))
        )
    return _attr(_CMD_ATTR_SERVICE, inner)


def _dest(attrs: dict[int, bytes], family: str) -> RealServer:
    if _DEST_ADDR_FAMILY in attrs:
        family = _FAMILIES.get(_U16.unpack(attrs[_DEST_ADDR_FAMILY])[0], "")
        if not family:
            raise NetlinkError("real server of an unknown address family")
    method = _U32.unpack(attrs[_DEST_FWD_METHOD])[0] & 0x7
    forwarding = _FORWARDING.get(method)
    if forwarding is None:
        raise NetlinkError(f"real server with forwarding method {method}")
    return RealServer(
        _address(family, attrs[_DEST_ADDR]),
        _BE16.unpack(attrs[_DEST_PORT])[0],
        forwarding,
        _U32.unpack(attrs[_DEST_WEIGHT])[0],
        _U32.unpack(attrs[_DEST_U_THRESH])[0],
        _U32.unpack(attrs[_DEST_L_THRESH])[0],
        _U32.unpack(attrs[_DEST_ACTIVE_CONNS])[0],
        _U32.unpack(attrs[_DEST_INACT_CONNS])[0],
    )


def _nested(reply: bytes, kind: int) -> dict[int, bytes]:
    """The attributes nested in the top-level attribute ``kind`` of one reply."""
    outer = _attrs(reply, 0, len(reply)).get(kind)
    if outer is None:
        raise NetlinkError(f"reply without attribute {kind}")
    return _attrs(outer, 0, len(outer))


def read_table(sock: Optional[GenlSocket] = None) -> IpvsTable:
    """The whole table (service options, real servers with forwarding, weight, thresholds, connections)."""
    own = sock is None
    genl = GenlSocket() if sock is None else sock
    try:
        return _read_table(genl)
    except (KeyError, struct.error, UnicodeDecodeError, ValueError) as exc:
        raise NetlinkError(f"unexpected IPVS netlink reply: {exc!r}") from None
    finally:
        if own:
            genl.close()


def _read_table(genl: GenlSocket) -> IpvsTable:
    family = genl.family_id(IPVS_GENL_NAME)
    info = _attrs(*_whole(genl.request(family, _CMD_GET_INFO, _IPVS_GENL_VERSION)))
    version = _U32.unpack(info[_INFO_VERSION])[0]
    table = IpvsTable(
        version=f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}",
        size=_U32.unpack(info[_INFO_CONN_TAB_SIZE])[0],
    )
    for reply in genl.request(family, _CMD_GET_SERVICE, _IPVS_GENL_VERSION, dump=True):
        svc = _service(_nested(reply, _CMD_ATTR_SERVICE))
        if svc is not None:
            table.services.append(svc)
    for svc in table.services:
        dests = genl.request(family, _CMD_GET_DEST, _IPVS_GENL_VERSION, _selector(svc), dump=True)
        svc.real_servers = [_dest(_nested(reply, 2), svc.key.family) for reply in dests]
    return table


def _whole(replies: list[bytes]) -> tuple[bytes, int, int]:
    if len(replies) != 1:
        raise NetlinkError(f"expected one reply, got {len(replies)}")
    return replies[0], 0, len(replies[0])
