# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plan's operations written to the kernel over IPVS's generic netlink family, in batches (standard library only).

``ipvsadm -R`` sends each of its lines as one generic netlink request, and libipvs opens a new netlink socket
for every request, asks the controller for the IPVS family's id, sends, waits for the answer and closes the
socket again: about a millisecond per rule on the emulated test bed, 39 s for 10,000 services of 3 real
servers (``benchmarks/README.md``, issue 13). The kernel does not need any of that: one socket, the family
resolved once, and the same requests (the attributes libipvs writes, ``include/uapi/linux/ip_vs.h``) sent
many per ``send``. Only the last request of a batch asks for an acknowledgement; the kernel answers a request
that fails with its error and the request's sequence number, so every failure is still told apart, and
the rest of the batch is applied as ``ipvsadm -R`` applies the lines after a failed one.

:class:`NetlinkUnavailable` is raised before anything is sent when there is no generic netlink socket or no
IPVS family; the caller then runs ``ipvsadm -R`` as before.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Optional, Union

from ansible_collections.lvs.dr.plugins.module_utils.addresses import IPV4, IPV6
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.genetlink import (
    CTRL_ATTR_FAMILY_NAME,
    CTRL_CMD_GETFAMILY,
    GENL,
    GENL_ID_CTRL,
    NLA,
    NLA_F_NESTED,
    NLM_F_ACK,
    NLM_F_REQUEST,
    NLMSG,
    NLMSG_DONE,
    NLMSG_ERROR,
    attribute,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import RealServer, ServiceKey, VirtualService
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_sockopt import Netlink, SockoptUnavailable, family_id
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_uapi import (
    CMD_ATTR_DEST,
    CMD_ATTR_SERVICE,
    CMD_DEL_DEST,
    CMD_DEL_SERVICE,
    CMD_NEW_DEST,
    CMD_NEW_SERVICE,
    CMD_SET_DEST,
    CMD_SET_SERVICE,
    DEST_ATTR_ADDR,
    DEST_ATTR_ADDR_FAMILY,
    DEST_ATTR_FWD_METHOD,
    DEST_ATTR_L_THRESH,
    DEST_ATTR_PORT,
    DEST_ATTR_U_THRESH,
    DEST_ATTR_WEIGHT,
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

_NETLINK_CAP_ACK = 10  # SOL_NETLINK option: errors come back without a copy of the failed request
_SOL_NETLINK = 270

# the scheduler flags' names (ipvsadm's -b words) -> IP_VS_SVC_F_* bits
SCHEDULER_FLAG_BITS = {
    "sh-fallback": SVC_F_SCHED1, "sh-port": SVC_F_SCHED2,
    "mh-fallback": SVC_F_SCHED1, "mh-port": SVC_F_SCHED2,
    "flag-1": SVC_F_SCHED1, "flag-2": SVC_F_SCHED2, "flag-3": SVC_F_SCHED3,
}
# IP_VS_CONN_F_* forwarding methods; "local" is the kernel's own choice, written as DR like ipvsadm does
FORWARDING_METHOD = {"nat": 0, "tunnel": 2, "dr": 3, "local": 3}
_FAMILY = {IPV4: socket.AF_INET, IPV6: socket.AF_INET6}
_PROTOCOL_NUMBER = {"tcp": socket.IPPROTO_TCP, "udp": socket.IPPROTO_UDP, "sctp": 132}

# every request of a batch together stays well below the socket's default send buffer (about 208 KiB), and a
# batch whose every request fails gets its errors into the receive buffer: each error is a message of its own,
# about 1 KiB of buffer on the test bed's kernel (500 of them overflowed it, and the kernel dropped the rest)
BATCH_BYTES = 64 * 1024
BATCH_REQUESTS = 128
_RECEIVE_BUFFER = 1 << 20  # asked for; the kernel caps it at net.core.rmem_max
_RECEIVE = 1 << 16

# what the failing request's errno means, per command (the kernel's IPVS returns these)
_MEANING = {
    (CMD_NEW_SERVICE, errno.EEXIST): "the service already exists",
    (CMD_NEW_SERVICE, errno.ENOENT): "scheduler or persistence engine not found (is its kernel module available?)",
    (CMD_SET_SERVICE, errno.ENOENT): "scheduler or persistence engine not found (is its kernel module available?)",
    (CMD_SET_SERVICE, errno.ESRCH): "no such service",
    (CMD_DEL_SERVICE, errno.ESRCH): "no such service",
    (CMD_NEW_DEST, errno.EEXIST): "the real server already exists",
    (CMD_NEW_DEST, errno.ESRCH): "no such service",
    (CMD_SET_DEST, errno.ENOENT): "no such real server",
    (CMD_SET_DEST, errno.ESRCH): "no such service",
    (CMD_DEL_DEST, errno.ENOENT): "no such real server",
    (CMD_DEL_DEST, errno.ESRCH): "no such service",
}


class NetlinkUnavailable(LvsDrError):
    """Nothing was sent: no generic netlink socket or no IPVS family (write with ipvsadm instead)."""


@dataclass(frozen=True)
class Operation:
    """One change to the kernel table: what one ``ipvsadm -R`` line does."""

    command: int  # CMD_*
    key: ServiceKey
    item: Union[VirtualService, RealServer, None] = None  # the service (new/set), the real server (dests)


@dataclass
class Failure:
    index: int  # position in the operations
    error: int  # errno

    def describe(self, command: int) -> str:
        name = errno.errorcode.get(self.error, str(self.error))
        meaning = _MEANING.get((command, self.error)) or os.strerror(self.error)
        return f"{meaning} ({name})"


# --------------------------------------------------------------------------- encoding


def _nested(kind: int, parts: Sequence[bytes]) -> bytes:
    payload = b"".join(parts)
    return NLA.pack(NLA.size + len(payload), kind | NLA_F_NESTED) + payload


def _u16(kind: int, value: int) -> bytes:
    return attribute(kind, struct.pack("=H", value))


def _u32(kind: int, value: int) -> bytes:
    return attribute(kind, struct.pack("=I", value))


def _address(family: str, address: str) -> bytes:
    """``union nf_inet_addr``: 16 bytes, an IPv4 address in the first four."""
    packed = socket.inet_pton(_FAMILY[family], address)
    return packed + bytes(16 - len(packed))


def _service_key(key: ServiceKey) -> list[bytes]:
    parts = [_u16(SVC_ATTR_AF, _FAMILY[key.family])]
    if key.is_fwmark:
        parts.append(_u32(SVC_ATTR_FWMARK, key.fwmark))
    else:
        parts.append(_u16(SVC_ATTR_PROTOCOL, _PROTOCOL_NUMBER[key.protocol]))
        parts.append(attribute(SVC_ATTR_ADDR, _address(key.family, key.address)))
        parts.append(attribute(SVC_ATTR_PORT, struct.pack("!H", key.port)))
    return parts


def service_flags(svc: VirtualService) -> int:
    flags = 0
    for name in svc.scheduler_flags:
        flags |= SCHEDULER_FLAG_BITS[name]
    if svc.persistent:
        flags |= SVC_F_PERSISTENT
    if svc.one_packet:
        flags |= SVC_F_ONEPACKET
    return flags


def service_netmask(svc: VirtualService) -> bytes:
    """The netmask attribute as ipvsadm sends it: the mask's bytes (IPv4), the prefix length (IPv6).

    A service that is not persistent gets ipvsadm's default (/32, /128): the kernel keeps what it is sent.
    """
    if svc.key.family == IPV6:
        return struct.pack("=I", int(svc.persistence_netmask) if svc.persistent else 128)
    mask = svc.persistence_netmask if svc.persistent else "255.255.255.255"
    return socket.inet_aton(mask)


def _service_attributes(key: ServiceKey, svc: Optional[VirtualService]) -> bytes:
    parts = _service_key(key)
    if svc is not None:
        parts.append(attribute(SVC_ATTR_SCHED_NAME, svc.scheduler.encode("ascii") + b"\0"))
        if svc.persistence_engine:
            parts.append(attribute(SVC_ATTR_PE_NAME, svc.persistence_engine.encode("ascii") + b"\0"))
        # struct ip_vs_flags: the flags and the mask of those to set (all, as ipvsadm does)
        parts.append(attribute(SVC_ATTR_FLAGS, struct.pack("=II", service_flags(svc), 0xFFFFFFFF)))
        parts.append(_u32(SVC_ATTR_TIMEOUT, svc.persistence_timeout or 0))
        parts.append(attribute(SVC_ATTR_NETMASK, service_netmask(svc)))
    return _nested(CMD_ATTR_SERVICE, parts)


# a real server with every field, of the service's family: one fixed layout (nested header, address (16 bytes),
# port (2 bytes and padding), forwarding method, weight, upper and lower threshold)
_DEST_FULL = struct.Struct("=HH HH16s HH2s2x HHI HHI HHI HHI")
_NLA_U32 = NLA.size + 4


def _dest_attributes(key: ServiceKey, rs: RealServer, full: bool) -> bytes:
    family = IPV6 if ":" in rs.address else IPV4
    address = _address(family, rs.address)
    port = struct.pack("!H", rs.port)
    if full and family == key.family:
        return _DEST_FULL.pack(
            _DEST_FULL.size, CMD_ATTR_DEST | NLA_F_NESTED, NLA.size + 16, DEST_ATTR_ADDR, address, NLA.size + 2,
            DEST_ATTR_PORT, port, _NLA_U32, DEST_ATTR_FWD_METHOD, FORWARDING_METHOD[rs.forwarding],
            _NLA_U32, DEST_ATTR_WEIGHT, rs.weight, _NLA_U32, DEST_ATTR_U_THRESH, rs.upper_threshold,
            _NLA_U32, DEST_ATTR_L_THRESH, rs.lower_threshold)
    parts = [attribute(DEST_ATTR_ADDR, address), attribute(DEST_ATTR_PORT, port)]
    if full:
        parts.append(_u32(DEST_ATTR_FWD_METHOD, FORWARDING_METHOD[rs.forwarding]))
        parts.append(_u32(DEST_ATTR_WEIGHT, rs.weight))
        parts.append(_u32(DEST_ATTR_U_THRESH, rs.upper_threshold))
        parts.append(_u32(DEST_ATTR_L_THRESH, rs.lower_threshold))
    if family != key.family:  # a tunnel real server of the other family (kernels since 3.18 know it)
        parts.append(_u16(DEST_ATTR_ADDR_FAMILY, _FAMILY[family]))
    return _nested(CMD_ATTR_DEST, parts)


def encode(operation: Operation, keys: Optional[dict[ServiceKey, bytes]] = None) -> tuple[int, bytes]:
    """(command, the generic netlink payload after genlmsghdr) of one operation.

    ``keys`` keeps each service's key-only attribute across the operations of one batch run (a service's real
    servers all name it).
    """
    command, key, item = operation.command, operation.key, operation.item
    if command in (CMD_NEW_SERVICE, CMD_SET_SERVICE):
        if not isinstance(item, VirtualService):
            raise ValueError(f"command {command} needs the service")
        return command, _service_attributes(key, item)
    if command not in (CMD_DEL_SERVICE, CMD_NEW_DEST, CMD_SET_DEST, CMD_DEL_DEST):
        raise ValueError(f"unknown IPVS command {command}")
    named = keys.get(key) if keys is not None else None
    if named is None:
        named = _service_attributes(key, None)
        if keys is not None:
            keys[key] = named
    if command == CMD_DEL_SERVICE:
        return command, named
    if not isinstance(item, RealServer):
        raise ValueError(f"command {command} needs the real server")
    return command, named + _dest_attributes(key, item, command != CMD_DEL_DEST)


_HEADERS = struct.Struct(NLMSG.format + GENL.format[1:])  # nlmsghdr, then genlmsghdr


def message(family: int, command: int, payload: bytes, seq: int, ack: bool) -> bytes:
    flags = NLM_F_REQUEST | (NLM_F_ACK if ack else 0)
    return _HEADERS.pack(_HEADERS.size + len(payload), family, flags, seq, 0, command, IPVS_GENL_VERSION, 0) + payload


def batches(family: int, operations: Sequence[Operation], first_seq: int,
            limit: Optional[int] = None) -> Iterator[tuple[bytes, int, int]]:
    """(bytes to send, first sequence number, last sequence number): the last request of each asks for an ack.

    A batch holds at most :data:`BATCH_REQUESTS` requests and ``limit`` bytes (:data:`BATCH_BYTES`); a larger
    request goes alone.
    """
    limit = limit or BATCH_BYTES
    keys: dict[ServiceKey, bytes] = {}
    encoded = [encode(op, keys) for op in operations]
    start = 0
    while start < len(encoded):
        size, end = 0, start
        while end < len(encoded) and (end == start or (size + len(encoded[end][1]) + _HEADERS.size <= limit
                                                       and end - start < BATCH_REQUESTS)):
            size += len(encoded[end][1]) + _HEADERS.size
            end += 1
        parts = [message(family, command, payload, first_seq + i, i == end - 1)
                 for i, (command, payload) in enumerate(encoded[start:end], start)]
        yield b"".join(parts), first_seq + start, first_seq + end - 1
        start = end


def replies(chunk: bytes) -> Iterator[tuple[int, int, int]]:
    """(type, sequence number, errno) of every message of a received chunk (errno 0: acknowledged)."""
    offset = 0
    while offset + NLMSG.size <= len(chunk):
        length, kind, _flags, seq, _port = NLMSG.unpack_from(chunk, offset)
        if length < NLMSG.size or offset + length > len(chunk):
            raise LvsDrError(f"a netlink reply of length {length} does not fit its {len(chunk)}-byte chunk")
        error = 0
        if kind == NLMSG_ERROR and length >= NLMSG.size + 4:
            error = -struct.unpack_from("=i", chunk, offset + NLMSG.size)[0]
        yield kind, seq, error
        offset += (length + 3) & ~3


# --------------------------------------------------------------------------- the socket


class IpvsNetlink:
    """One generic netlink socket with the IPVS family resolved (the socket and the controller's answer as the
    table reader opens and reads them: :class:`ipvs_sockopt.Netlink`, :func:`ipvs_sockopt.family_id`)."""

    def __init__(self) -> None:
        try:
            link = Netlink()
        except SockoptUnavailable as exc:
            raise NetlinkUnavailable(str(exc)) from None
        self.sock = link.sock
        with contextlib.suppress(OSError):  # older kernels copy the failed request into the error: more to read
            self.sock.setsockopt(_SOL_NETLINK, _NETLINK_CAP_ACK, 1)
        with contextlib.suppress(OSError):
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        try:
            name = attribute(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME.encode("ascii") + b"\0")
            self.family = family_id(link.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, name), link.seq)
        except (SockoptUnavailable, struct.error, ValueError) as exc:
            self.close()
            raise NetlinkUnavailable(f"no IPVS generic netlink family ({exc})") from None
        self.seq = link.seq

    def close(self) -> None:
        self.sock.close()

    def apply(self, operations: Sequence[Operation]) -> list[Failure]:
        """Send every operation; the failures in order (empty: all applied)."""
        failures: list[Failure] = []
        base = self.seq + 1
        sent = 0
        try:
            for data, first, last in batches(self.family, operations, base):
                self.sock.send(data)
                sent = last - base + 1
                done = False
                while not done:
                    for kind, seq, error in replies(self.sock.recv(_RECEIVE)):
                        if kind == NLMSG_ERROR and error and first <= seq <= last:
                            failures.append(Failure(seq - base, error))
                        if seq == last and kind in (NLMSG_ERROR, NLMSG_DONE):
                            done = True
        except OSError as exc:
            # some changes may be in the kernel already: not a case for ipvsadm -R to start over
            raise LvsDrError(f"netlink: {exc} (after {sent} of {len(operations)} changes were sent)") from None
        finally:
            self.seq = base + len(operations)
        return failures


def apply(operations: Sequence[Operation]) -> list[Failure]:
    """Apply the operations over one socket; raises :class:`NetlinkUnavailable` before sending anything."""
    link = IpvsNetlink()
    try:
        return link.apply(operations)
    finally:
        link.close()
