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
from ansible_collections.lvs.dr.plugins.module_utils.genetlink import (
    CTRL_ATTR_FAMILY_ID,
    CTRL_ATTR_FAMILY_NAME,
    CTRL_CMD_GETFAMILY,
    GENL,
    GENL_ID_CTRL,
    NETLINK_GENERIC,
    NLA,
    NLA_TYPE_MASK,
    NLM_F_ACK,
    NLM_F_DUMP,
    NLM_F_REQUEST,
    NLMSG,
    NLMSG_DONE,
    NLMSG_ERROR,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    FWMARK,
    IpvsTable,
    RealServer,
    ServiceKey,
    VirtualService,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_uapi import (
    CMD_ATTR_SERVICE,
    CMD_GET_DEST,
    CMD_GET_INFO,
    CMD_GET_SERVICE,
    DEST_ATTR_ACTIVE_CONNS,
    DEST_ATTR_ADDR,
    DEST_ATTR_ADDR_FAMILY,
    DEST_ATTR_FWD_METHOD,
    DEST_ATTR_INACT_CONNS,
    DEST_ATTR_L_THRESH,
    DEST_ATTR_PORT,
    DEST_ATTR_U_THRESH,
    DEST_ATTR_WEIGHT,
    INFO_ATTR_CONN_TAB_SIZE,
    INFO_ATTR_VERSION,
    IPVS_GENL_NAME,
    IPVS_GENL_VERSION,
    SVC_ATTR_ADDR,
    SVC_ATTR_AF,
    SVC_ATTR_FLAGS,
    SVC_ATTR_FWMARK,
    SVC_ATTR_NETMASK,
    SVC_ATTR_PE_NAME,
    SVC_ATTR_PORT,
    SVC_ATTR_PROTOCOL,
    SVC_ATTR_SCHED_NAME,
    SVC_ATTR_TIMEOUT,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    SVC_F_SCHED3,
)

# scheduler flag names as ipvsadm prints them (print_sched_flags in ipvsadm.c)
_SCHED_FLAG_NAMES = {
    "sh": ((SVC_F_SCHED1, "sh-fallback"), (SVC_F_SCHED2, "sh-port"), (SVC_F_SCHED3, "flag-3")),
    "mh": ((SVC_F_SCHED1, "mh-fallback"), (SVC_F_SCHED2, "mh-port"), (SVC_F_SCHED3, "flag-3")),
}
_GENERIC_FLAG_NAMES = ((SVC_F_SCHED1, "flag-1"), (SVC_F_SCHED2, "flag-2"), (SVC_F_SCHED3, "flag-3"))
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
    unpack = NLA.unpack_from
    while start + 4 <= end:
        length, kind = unpack(data, start)
        if length < 4 or start + length > end:
            raise NetlinkError(f"malformed netlink attribute (length {length})")
        found[kind & NLA_TYPE_MASK] = data[start + 4 : start + length]
        start += (length + 3) & ~3
    return found


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return NLA.pack(length, kind) + payload + b"\0" * (-length & 3)


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
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        body = GENL.pack(command, version, 0) + payload
        try:
            self.sock.send(NLMSG.pack(NLMSG.size + len(body), family, flags, seq, 0) + body)
        except OSError as exc:
            raise NetlinkError(f"netlink send failed: {exc}") from None
        replies: list[bytes] = []
        view = memoryview(self.buffer)
        unpack = NLMSG.unpack_from
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
                if kind in (NLMSG_DONE, NLMSG_ERROR):
                    error = struct.unpack_from("=i", data, offset + 16)[0] if length >= 20 else 0
                    if error:
                        raise NetlinkError(f"netlink request {command} failed: {os.strerror(-error)}")
                    return replies
                replies.append(data[offset + 20 : offset + length])
                offset += (length + 3) & ~3

    def family_id(self, name: str) -> int:
        """The id of a generic netlink family (CTRL_CMD_GETFAMILY)."""
        replies = self.request(
            GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, _attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0")
        )
        for reply in replies:
            found = _attrs(reply, 0, len(reply)).get(CTRL_ATTR_FAMILY_ID)
            if found is not None:
                return int(_U16.unpack_from(found)[0])
        raise NetlinkError(f"no generic netlink family {name}")


def _service(attrs: dict[int, bytes]) -> Optional[VirtualService]:
    """A service from its IPVS_SVC_ATTR_* (None for a protocol ipvsadm lists as ``?``)."""
    family = _FAMILIES.get(_U16.unpack(attrs[SVC_ATTR_AF])[0])
    if family is None:
        raise NetlinkError("service of an unknown address family")
    mark = _U32.unpack(attrs[SVC_ATTR_FWMARK])[0] if SVC_ATTR_FWMARK in attrs else 0
    if mark:
        key = ServiceKey(FWMARK, family, fwmark=mark)
    else:
        protocol = _PROTOCOLS.get(_U16.unpack(attrs[SVC_ATTR_PROTOCOL])[0])
        if protocol is None:
            return None
        port = _BE16.unpack(attrs[SVC_ATTR_PORT])[0]
        key = ServiceKey(protocol, family, _address(family, attrs[SVC_ATTR_ADDR]), port)
    scheduler = attrs[SVC_ATTR_SCHED_NAME].split(b"\0", 1)[0].decode()
    flags = _U32.unpack_from(attrs[SVC_ATTR_FLAGS])[0]
    svc = VirtualService(key, scheduler)
    names = _SCHED_FLAG_NAMES.get(scheduler, _GENERIC_FLAG_NAMES)
    svc.scheduler_flags = tuple(sorted(name for bit, name in names if flags & bit))
    if flags & SVC_F_PERSISTENT:
        svc.persistence_timeout = _U32.unpack(attrs[SVC_ATTR_TIMEOUT])[0]
        raw = attrs[SVC_ATTR_NETMASK]
        # IPv4: the mask in network order; IPv6: the prefix length (ip_vs_ctl.c stores both in one __be32)
        svc.persistence_netmask = socket.inet_ntoa(raw) if family == IPV4 else str(_U32.unpack(raw)[0])
    svc.one_packet = bool(flags & SVC_F_ONEPACKET)
    pe_name = attrs.get(SVC_ATTR_PE_NAME, b"").split(b"\0", 1)[0]
    svc.persistence_engine = pe_name.decode() if pe_name else None
    return svc


def _selector(svc: VirtualService) -> bytes:
    """IPVS_CMD_ATTR_SERVICE naming one service (what ip_vs_genl_parse_service needs to find it)."""
    key = svc.key
    inner = _attr(SVC_ATTR_AF, _U16.pack(_AF[key.family]))
    if key.is_fwmark:
        inner += _attr(SVC_ATTR_FWMARK, _U32.pack(key.fwmark))
    else:
        family = socket.AF_INET if key.family == IPV4 else socket.AF_INET6
        inner += (
            _attr(SVC_ATTR_PROTOCOL, _U16.pack(_PROTOCOL_NUMBERS[key.protocol]))
            + _attr(SVC_ATTR_ADDR, socket.inet_pton(family, key.address).ljust(16, b"\0"))
            + _attr(SVC_ATTR_PORT, _BE16.pack(key.port))
        )
    return _attr(CMD_ATTR_SERVICE, inner)


def _dest(attrs: dict[int, bytes], family: str) -> RealServer:
    if DEST_ATTR_ADDR_FAMILY in attrs:
        family = _FAMILIES.get(_U16.unpack(attrs[DEST_ATTR_ADDR_FAMILY])[0], "")
        if not family:
            raise NetlinkError("real server of an unknown address family")
    method = _U32.unpack(attrs[DEST_ATTR_FWD_METHOD])[0] & 0x7
    forwarding = _FORWARDING.get(method)
    if forwarding is None:
        raise NetlinkError(f"real server with forwarding method {method}")
    return RealServer(
        _address(family, attrs[DEST_ATTR_ADDR]),
        _BE16.unpack(attrs[DEST_ATTR_PORT])[0],
        forwarding,
        _U32.unpack(attrs[DEST_ATTR_WEIGHT])[0],
        _U32.unpack(attrs[DEST_ATTR_U_THRESH])[0],
        _U32.unpack(attrs[DEST_ATTR_L_THRESH])[0],
        _U32.unpack(attrs[DEST_ATTR_ACTIVE_CONNS])[0],
        _U32.unpack(attrs[DEST_ATTR_INACT_CONNS])[0],
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
    info = _attrs(*_whole(genl.request(family, CMD_GET_INFO, IPVS_GENL_VERSION)))
    version = _U32.unpack(info[INFO_ATTR_VERSION])[0]
    table = IpvsTable(
        version=f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}",
        size=_U32.unpack(info[INFO_ATTR_CONN_TAB_SIZE])[0],
    )
    for reply in genl.request(family, CMD_GET_SERVICE, IPVS_GENL_VERSION, dump=True):
        svc = _service(_nested(reply, CMD_ATTR_SERVICE))
        if svc is not None:
            table.services.append(svc)
    for svc in table.services:
        dests = genl.request(family, CMD_GET_DEST, IPVS_GENL_VERSION, _selector(svc), dump=True)
        svc.real_servers = [_dest(_nested(reply, 2), svc.key.family) for reply in dests]
    return table


def _whole(replies: list[bytes]) -> tuple[bytes, int, int]:
    if len(replies) != 1:
        raise NetlinkError(f"expected one reply, got {len(replies)}")
    return replies[0], 0, len(replies[0])
