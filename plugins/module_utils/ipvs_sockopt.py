# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPv4 IPVS table read straight from the kernel with IPVS's get-sockopts (standard library only).

ipvsadm reads the table over generic netlink (one dump of the services, then one dump of the real servers per
service) and prints text that :mod:`ipvs_format` parses back. The kernel also answers the older interface
ipvsadm uses when built without libnl: ``getsockopt(IPPROTO_IP, IP_VS_SO_GET_*)`` on a raw socket, with fixed
C structures (``include/uapi/linux/ip_vs.h``). One ``IP_VS_SO_GET_SERVICES`` call returns every IPv4 service
and one ``IP_VS_SO_GET_DESTS`` call a service's real servers; on the emulated test bed that is about ten
times cheaper in the kernel than the netlink dumps, and the fixed records decode in one ``struct`` call each
(``benchmarks/README.md``, issue 13).

That interface only knows IPv4 and has no persistence engine name, so this reader answers only for a table it
can describe exactly: every service IPv4 (the kernel counts only IPv4 services for the sockopts, so one
generic netlink dump of the services, of which only each message's address family is read, says whether
there are others), no service persistent (a persistence engine such as ``sip`` is only visible over netlink),
every real server of the service's family. Anything else -- no raw socket (not root), no IPVS, another ABI, a
table that changed between two calls, a record this reader does not expect -- raises
:class:`SockoptUnavailable` and nothing is returned, so the caller reads through ipvsadm as before. Services
and real servers come back in libipvs's order, as ``ipvsadm -Ln`` lists them. (/proc/net/ip_vs cannot serve
for the count: on a kernel whose IPVS also holds other network namespaces' services it skips entries of this
one from its second page on.)
"""

from __future__ import annotations

import ctypes
import errno
import socket
import struct
from collections.abc import Sequence
from functools import cmp_to_key
from typing import Callable, Optional

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
    attribute,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    ipvsadm_compare_servers,
    ipvsadm_compare_services,
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
    CMD_GET_SERVICE,
    CMD_NEW_SERVICE,
    IPVS_GENL_NAME,
    IPVS_GENL_VERSION,
    SVC_ATTR_AF,
    SVC_F_ONEPACKET,
    SVC_F_PERSISTENT,
    SVC_F_SCHED1,
    SVC_F_SCHED2,
    SVC_F_SCHED3,
)

# IP_VS_BASE_CTL = 64 + 1024 + 64 (ip_vs.h)
SO_GET_INFO = 1153
SO_GET_SERVICES = 1154
SO_GET_DESTS = 1156

# struct ip_vs_getinfo: version, size, num_services
_INFO = struct.Struct("=III")
# struct ip_vs_service_entry (104 bytes where u64 is 8-aligned): protocol, addr (be32), port (be16), fwmark,
# sched_name[16], flags, timeout (s), netmask (be32), num_dests, then struct ip_vs_stats_user (not read)
_SERVICE = struct.Struct("=H2x4s2s2xI16sII4sI56x")
# struct ip_vs_get_services: num_services, then the entries (8-aligned)
_SERVICES_HEADER = struct.Struct("=I4x")
# struct ip_vs_dest_entry (96 bytes): addr (be32), port (be16), conn_flags, weight, u_threshold, l_threshold,
# activeconns, inactconns, persistconns, then struct ip_vs_stats_user (not read)
_DEST = struct.Struct("=4s2s2xIiIIIII4x56x")
# struct ip_vs_get_dests: protocol, addr, port, fwmark, num_dests, then the entries (8-aligned)
_DESTS_HEADER = struct.Struct("=H2x4s2s2xII4x")

_PROTOCOLS = {6: "tcp", 17: "udp", 132: "sctp"}  # others (AH, ESP) are listed by ipvsadm as "?" and skipped
# IP_VS_CONN_F_FWD_MASK values -> the model's names (what LISTING_FORWARDING gives for ipvsadm's words)
_FORWARDING = {0: "nat", 1: "local", 2: "tunnel", 3: "dr"}
_F_SCHED = SVC_F_SCHED1 | SVC_F_SCHED2 | SVC_F_SCHED3
# scheduler flag names as ipvsadm prints them (print_sched_flags in ipvsadm.c)
_SCHED_FLAG_NAMES = {
    "sh": ((SVC_F_SCHED1, "sh-fallback"), (SVC_F_SCHED2, "sh-port"), (SVC_F_SCHED3, "flag-3")),
    "mh": ((SVC_F_SCHED1, "mh-fallback"), (SVC_F_SCHED2, "mh-port"), (SVC_F_SCHED3, "flag-3")),
}
_GENERIC_FLAG_NAMES = ((SVC_F_SCHED1, "flag-1"), (SVC_F_SCHED2, "flag-2"), (SVC_F_SCHED3, "flag-3"))
# the entries of a GET_DESTS request are sent filled with 0xff: a row the kernel leaves unwritten (a real server
# of the other family, which it skips, or one removed meanwhile) reads as forwarding method 7, which no real
# server has, and is refused below without a separate check
_UNWRITTEN_DEST = b"\xff" * _DEST.size
_WINDOW = 2**31  # libipvs compares 32-bit words by their difference as an int

# getsockopt(option, request) -> reply of the same length; the unit tests replay recorded replies
GetSockopt = Callable[[int, bytes], bytes]


class SockoptUnavailable(LvsDrError):
    """The table cannot be read (or described exactly) this way: read it through ipvsadm."""


class SockoptChanged(SockoptUnavailable):
    """The two interfaces did not see the same services: the table changed in between."""


# --------------------------------------------------------------------------- generic netlink: the families
# a service message: nlmsghdr (16), genlmsghdr (4), IPVS_CMD_ATTR_SERVICE (nested, type 1), whose first
# attribute ip_vs_genl_fill_service writes is IPVS_SVC_ATTR_AF (u16, type 1)
_SERVICE_HEAD = struct.Struct("=B3x2xH2xHH")  # after nlmsghdr: genl command, outer type; AF type, value
_RECEIVE = 1 << 16


def _messages(chunks: Sequence[bytes], seq: int) -> list[tuple[int, bytes]]:
    """(type, body after nlmsghdr) of every message of a reply, up to DONE or the ACK; errors raise."""
    found = []
    for chunk in chunks:
        offset = 0
        while offset + NLMSG.size <= len(chunk):
            length, kind, _flags, reply_seq, _port = NLMSG.unpack_from(chunk, offset)
            if length < NLMSG.size or offset + length > len(chunk) or reply_seq != seq:
                raise SockoptUnavailable(f"unexpected netlink message (length {length}, sequence {reply_seq})")
            body = chunk[offset + NLMSG.size : offset + length]
            if kind in (NLMSG_DONE, NLMSG_ERROR):
                error = struct.unpack_from("=i", body)[0] if len(body) >= 4 else 0
                if error:
                    raise SockoptUnavailable(f"netlink request failed: {errno.errorcode.get(-error, error)}")
                return found
            found.append((kind, body))
            offset += (length + 3) & ~3
    raise SockoptUnavailable("netlink reply without its end")


def family_id(chunks: Sequence[bytes], seq: int) -> int:
    """The IPVS family's id from the controller's CTRL_CMD_GETFAMILY reply."""
    for _kind, body in _messages(chunks, seq):
        offset = GENL.size
        while offset + NLA.size <= len(body):
            length, kind = NLA.unpack_from(body, offset)
            if length < NLA.size:
                break
            if kind & NLA_TYPE_MASK == CTRL_ATTR_FAMILY_ID and length >= 6:
                return int(struct.unpack_from("=H", body, offset + NLA.size)[0])
            offset += (length + 3) & ~3
    raise SockoptUnavailable("no IPVS generic netlink family")


def families_of(chunks: Sequence[bytes], seq: int) -> list[int]:
    """The address family of every service of an IPVS_CMD_GET_SERVICE dump (nothing else is decoded)."""
    families = []
    for _kind, body in _messages(chunks, seq):
        command, outer, kind, family = _SERVICE_HEAD.unpack_from(body)
        # each message of a service dump is a NEW_SERVICE (ip_vs_genl_dump_service)
        if (command, outer & NLA_TYPE_MASK, kind & NLA_TYPE_MASK) != (CMD_NEW_SERVICE, CMD_ATTR_SERVICE, SVC_ATTR_AF):
            raise SockoptUnavailable("an IPVS service message of another layout")
        families.append(family)
    return families


class Netlink:
    """A generic netlink socket that returns each reply as the chunks it was received in."""

    def __init__(self) -> None:
        try:
            self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
            self.sock.bind((0, 0))
        except (OSError, AttributeError) as exc:
            raise SockoptUnavailable(f"no generic netlink socket: {exc}") from None
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, family: int, command: int, version: int, payload: bytes = b"", dump: bool = False) -> list[bytes]:
        self.seq += 1
        flags = NLM_F_REQUEST | (NLM_F_DUMP if dump else NLM_F_ACK)
        body = GENL.pack(command, version, 0) + payload
        chunks = []
        try:
            self.sock.send(NLMSG.pack(NLMSG.size + len(body), family, flags, self.seq, 0) + body)
            while True:
                chunk = self.sock.recv(_RECEIVE)
                chunks.append(chunk)
                if _ends(chunk):
                    return chunks
        except OSError as exc:
            raise SockoptUnavailable(f"netlink: {exc}") from None


def _ends(chunk: bytes) -> bool:
    """Whether a received chunk holds the DONE or error message that ends a reply."""
    offset = 0
    while offset + NLMSG.size <= len(chunk):
        length, kind = NLMSG.unpack_from(chunk, offset)[:2]
        if kind in (NLMSG_DONE, NLMSG_ERROR) or length < NLMSG.size:
            return True
        offset += (length + 3) & ~3
    return False


def service_families(link: Optional[Netlink] = None) -> list[int]:
    """The address family of every IPVS service of this network namespace (one netlink dump)."""
    own = link is None
    link = link or Netlink()
    try:
        name = attribute(CTRL_ATTR_FAMILY_NAME, IPVS_GENL_NAME.encode() + b"\0")
        ipvs = family_id(link.request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, name), link.seq)
        return families_of(link.request(ipvs, CMD_GET_SERVICE, IPVS_GENL_VERSION, dump=True), link.seq)
    except (struct.error, ValueError) as exc:
        raise SockoptUnavailable(f"unexpected netlink reply: {exc!r}") from None
    finally:
        if own:
            link.close()


class _StatsUser(ctypes.Structure):
    _fields_ = [("counts", ctypes.c_uint32 * 3), ("bytes", ctypes.c_uint64 * 2), ("rates", ctypes.c_uint32 * 5)]


class _ServiceEntry(ctypes.Structure):
    _fields_ = [("protocol", ctypes.c_uint16), ("addr", ctypes.c_uint32), ("port", ctypes.c_uint16),
                ("fwmark", ctypes.c_uint32), ("sched_name", ctypes.c_char * 16), ("flags", ctypes.c_uint),
                ("timeout", ctypes.c_uint), ("netmask", ctypes.c_uint32), ("num_dests", ctypes.c_uint),
                ("stats", _StatsUser)]


class _DestEntry(ctypes.Structure):
    _fields_ = [("addr", ctypes.c_uint32), ("port", ctypes.c_uint16), ("conn_flags", ctypes.c_uint),
                ("weight", ctypes.c_int), ("u_threshold", ctypes.c_uint32), ("l_threshold", ctypes.c_uint32),
                ("activeconns", ctypes.c_uint32), ("inactconns", ctypes.c_uint32),
                ("persistconns", ctypes.c_uint32), ("stats", _StatsUser)]


def abi_matches() -> bool:
    """True when this platform lays the kernel's structures out as the formats above assume."""
    return ctypes.sizeof(_ServiceEntry) == _SERVICE.size and ctypes.sizeof(_DestEntry) == _DEST.size


class RawSocket:
    """``getsockopt`` with a request in the buffer (Python's own ``socket.getsockopt`` cannot send one)."""

    def __init__(self) -> None:
        if not abi_matches():
            raise SockoptUnavailable("the IPVS sockopt structures have another layout on this platform")
        try:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
            libc = ctypes.CDLL(None, use_errno=True)
            self._getsockopt = libc.getsockopt
        except (OSError, AttributeError) as exc:
            raise SockoptUnavailable(f"no raw socket for the IPVS sockopts: {exc}") from None
        self._getsockopt.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p,
                                     ctypes.POINTER(ctypes.c_uint)]
        self._getsockopt.restype = ctypes.c_int
        self._fd = self.sock.fileno()
        self._buffer = ctypes.create_string_buffer(4096)
        self._length = ctypes.c_uint(0)
        self._length_ref = ctypes.byref(self._length)

    def close(self) -> None:
        self.sock.close()

    def __call__(self, option: int, request: bytes) -> bytes:
        size = len(request)
        if size > len(self._buffer):
            self._buffer = ctypes.create_string_buffer(size * 2)
        buffer = self._buffer
        ctypes.memmove(buffer, request, size)
        self._length.value = size
        if self._getsockopt(self._fd, socket.IPPROTO_IP, option, buffer, self._length_ref) != 0:
            error = ctypes.get_errno()
            raise SockoptUnavailable(f"getsockopt({option}) failed: {errno.errorcode.get(error, error)}")
        if self._length.value != size:
            raise SockoptUnavailable(f"getsockopt({option}) returned {self._length.value} bytes, {size} asked")
        return ctypes.string_at(buffer, size)


def read_table(get: Optional[GetSockopt] = None, families: Optional[Callable[[], list[int]]] = None) -> IpvsTable:
    """The table as ``parse_listing(ipvsadm -Ln --thresholds)`` merged with /proc/net/ip_vs gives it.

    ``get`` and ``families`` stand for the kernel (the unit tests replay recorded replies): the sockopt call
    and the address family of every service from the netlink dump (:func:`service_families`).
    """
    if get is not None:
        return _read(get, families or service_families)
    sock = RawSocket()
    try:
        try:
            return _read(sock, families or service_families)
        except SockoptChanged:
            # The netlink dump comes in parts, resumed by position in the kernel's hash table, which holds
            # every namespace's services: a change anywhere between two parts shifts it. Once more, then give up.
            return _read(sock, families or service_families)
    finally:
        sock.close()


def _read(get: GetSockopt, families: Callable[[], list[int]]) -> IpvsTable:
    every = families()
    if any(family != socket.AF_INET for family in every):
        raise SockoptUnavailable("the table has services that are not IPv4")
    try:
        version, size, count = _INFO.unpack(get(SO_GET_INFO, bytes(_INFO.size)))
        reply = get(SO_GET_SERVICES, _SERVICES_HEADER.pack(count) + bytes(_SERVICE.size * count))
        if _SERVICES_HEADER.unpack_from(reply)[0] != count:
            raise SockoptUnavailable("the service count changed while reading")
        rows = list(_SERVICE.iter_unpack(memoryview(reply)[_SERVICES_HEADER.size :]))
        table = IpvsTable(version=f"{version >> 16}.{(version >> 8) & 0xFF}.{version & 0xFF}", size=size)
        for row in rows:
            service = _service(get, row)
            if service is not None:
                table.services.append(service)
    except (struct.error, UnicodeDecodeError, KeyError, ValueError) as exc:
        raise SockoptUnavailable(f"unexpected IPVS sockopt reply: {exc!r}") from None
    if len(rows) != len(every):
        raise SockoptChanged(f"netlink lists {len(every)} services, the sockopts {len(rows)}: the table changed")
    table.services = _libipvs_order(table.services)
    return table


def _service(get: GetSockopt, row: tuple) -> Optional[VirtualService]:  # type: ignore[type-arg]
    protocol, addr, port, mark, sched, flags, _timeout, _netmask, dests = row
    if not protocol and not mark:  # a row left empty: the table changed between the two calls
        raise SockoptUnavailable("a service row left empty")
    if flags & SVC_F_PERSISTENT:
        raise SockoptUnavailable("a persistent service (its persistence engine is only visible over netlink)")
    name = sched.split(b"\0", 1)[0].decode("ascii")
    request = _DESTS_HEADER.pack(protocol, addr, port, mark, dests) + _UNWRITTEN_DEST * dests
    reply = get(SO_GET_DESTS, request)
    if mark:
        key = ServiceKey(FWMARK, "ipv4", fwmark=mark)
    elif protocol in _PROTOCOLS:
        key = ServiceKey(_PROTOCOLS[protocol], "ipv4", socket.inet_ntoa(addr), int.from_bytes(port, "big"))
    else:
        return None  # AH, ESP ...: ipvsadm lists them as "?" and the listing parser skips them
    service = VirtualService(key, name)
    if flags & _F_SCHED:
        names = _SCHED_FLAG_NAMES.get(name, _GENERIC_FLAG_NAMES)
        service.scheduler_flags = tuple(sorted(flag for bit, flag in names if flags & bit))
    service.one_packet = bool(flags & SVC_F_ONEPACKET)
    if dests:
        service.real_servers = _servers(memoryview(reply)[_DESTS_HEADER.size :])
    return service


def _servers(reply: memoryview) -> list[RealServer]:
    """The real servers of one GET_DESTS reply, in ipvs_cmp_dests order."""
    rows = list(_DEST.iter_unpack(reply))
    if len(rows) > 1:
        # address then port as 6 big-endian bytes: their byte order is libipvs's when the addresses are
        # within 2^31 of each other (its difference of 32-bit words does not wrap)
        rows.sort(key=lambda row: row[0] + row[1])
        if int.from_bytes(rows[-1][0], "big") - int.from_bytes(rows[0][0], "big") >= _WINDOW:
            return sorted((_server(row) for row in rows), key=cmp_to_key(ipvsadm_compare_servers))
    return [_server(row) for row in rows]


def _server(row: tuple) -> RealServer:  # type: ignore[type-arg]
    addr, port, conn_flags, weight, upper, lower, active, inactive, _persistent = row
    forwarding = _FORWARDING.get(conn_flags & 0x7)
    if forwarding is None:
        raise SockoptUnavailable(f"a real server row with forwarding method {conn_flags & 0x7} (unwritten?)")
    return RealServer(socket.inet_ntoa(addr), int.from_bytes(port, "big"), forwarding, weight, upper, lower,
                      active, inactive)


def _fits_window(values: Sequence[int]) -> bool:
    return not values or max(values) - min(values) < _WINDOW


def _libipvs_order(services: list[VirtualService]) -> list[VirtualService]:
    """ipvs_cmp_services order (fwmark, protocol, address, port as differences of 32-bit words)."""
    marks = [svc.key.fwmark for svc in services]
    words = [int.from_bytes(socket.inet_aton(svc.key.address), "big") if svc.key.address else 0
             for svc in services]
    # addresses are only compared between services of the same mark (0: not fwmark services)
    if _fits_window(marks) and _fits_window([word for word, mark in zip(words, marks) if not mark]):
        order = sorted(range(len(services)), key=lambda i: (marks[i], services[i].key.protocol_number, words[i],
                                                            services[i].key.port))
        return [services[i] for i in order]
    compare = cmp_to_key(ipvsadm_compare_services)
    return sorted(services, key=lambda svc: compare(svc.key))
