"""ipvs_netlink: the requests it encodes (decoded back attribute by attribute), its batches, and the replies.

The integration target ``ipvs_service`` (``tasks/netlink.yml``) proves on a real kernel that these requests make
the same tables as ``ipvsadm -R``; here each attribute is held to the layout of ``include/uapi/linux/ip_vs.h``.
"""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_uapi as uapi
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import RealServer, ServiceKey, VirtualService

NLMSG = struct.Struct("=IHHII")
NLA = struct.Struct("=HH")


def attributes(data: bytes) -> dict[int, Any]:
    """type -> payload (nested attributes decoded into dicts, marked by NLA_F_NESTED)."""
    found: dict[int, Any] = {}
    offset = 0
    while offset < len(data):
        length, kind = NLA.unpack_from(data, offset)
        assert length >= NLA.size, "an attribute shorter than its header"
        payload = data[offset + NLA.size : offset + length]
        found[kind & 0x3FFF] = attributes(payload) if kind & 0x8000 else payload
        offset += (length + 3) & ~3
    assert offset == len(data), "attributes do not end where the payload ends"
    return found


def decode(operation: nl.Operation) -> tuple[int, dict[int, Any]]:
    command, payload = nl.encode(operation)
    return command, attributes(payload)


def u16(value: bytes) -> int:
    return int(struct.unpack("=H", value)[0])


def u32(value: bytes) -> int:
    return int(struct.unpack("=I", value)[0])


WEB = ServiceKey("tcp", "ipv4", "192.0.2.10", 80)


def test_a_new_ipv4_service_carries_what_ipvsadm_sends() -> None:
    command, attrs = decode(nl.Operation(nl.CMD_NEW_SERVICE, WEB, VirtualService(WEB, "wrr")))
    assert command == nl.CMD_NEW_SERVICE
    assert list(attrs) == [1]  # IPVS_CMD_ATTR_SERVICE only
    svc = attrs[1]
    assert u16(svc[1]) == socket.AF_INET
    assert u16(svc[2]) == socket.IPPROTO_TCP
    assert svc[3] == socket.inet_aton("192.0.2.10") + bytes(12)  # union nf_inet_addr
    assert svc[4] == b"\x00\x50"  # port in network order
    assert svc[6] == b"wrr\0"
    assert struct.unpack("=II", svc[7]) == (0, 0xFFFFFFFF)  # flags, mask: all of them set
    assert u32(svc[8]) == 0
    assert svc[9] == b"\xff\xff\xff\xff"  # ipvsadm's default mask /32, in network order
    assert 5 not in svc and 11 not in svc  # no fwmark, no persistence engine


def test_a_persistent_service_with_flags_and_a_mask() -> None:
    key = ServiceKey("udp", "ipv4", "192.0.2.10", 53)
    svc = VirtualService(key, "sh", ("sh-port", "sh-fallback"), 600, "255.255.255.0", one_packet=True,
                         persistence_engine="sip")
    _command, attrs = decode(nl.Operation(nl.CMD_SET_SERVICE, key, svc))
    inner = attrs[1]
    assert u16(inner[2]) == socket.IPPROTO_UDP
    flags, mask = struct.unpack("=II", inner[7])
    assert flags == uapi.SVC_F_PERSISTENT | uapi.SVC_F_ONEPACKET | uapi.SVC_F_SCHED1 | uapi.SVC_F_SCHED2
    assert mask == 0xFFFFFFFF
    assert u32(inner[8]) == 600
    assert inner[9] == bytes([255, 255, 255, 0])
    assert inner[11] == b"sip\0"


@pytest.mark.parametrize(
    ("flags", "bits"),
    [
        (("mh-fallback",), uapi.SVC_F_SCHED1),
        (("mh-port",), uapi.SVC_F_SCHED2),
        (("flag-1", "flag-2", "flag-3"), uapi.SVC_F_SCHED1 | uapi.SVC_F_SCHED2 | uapi.SVC_F_SCHED3),
    ],
)
def test_scheduler_flags_are_the_kernels_bits(flags: tuple[str, ...], bits: int) -> None:
    assert nl.service_flags(VirtualService(WEB, "mh", flags)) == bits


def test_an_ipv6_fwmark_service() -> None:
    key = ServiceKey("fwmark", "ipv6", fwmark=62)
    _command, attrs = decode(nl.Operation(nl.CMD_NEW_SERVICE, key, VirtualService(key, "lc", (), 300, "64")))
    inner = attrs[1]
    assert u16(inner[1]) == socket.AF_INET6
    assert u32(inner[5]) == 62
    assert 2 not in inner and 3 not in inner and 4 not in inner
    assert u32(inner[9]) == 64  # a prefix length for IPv6
    assert struct.unpack("=II", inner[7])[0] == uapi.SVC_F_PERSISTENT


def test_a_service_that_is_not_persistent_gets_the_host_mask_whatever_its_mask_field_says() -> None:
    key = ServiceKey("tcp", "ipv6", "2001:db8::1", 443)
    _command, attrs = decode(nl.Operation(nl.CMD_NEW_SERVICE, key, VirtualService(key, "rr")))
    assert u32(attrs[1][9]) == 128
    assert attrs[1][3] == socket.inet_pton(socket.AF_INET6, "2001:db8::1")


def test_a_deleted_service_is_named_by_its_key_alone() -> None:
    command, attrs = decode(nl.Operation(nl.CMD_DEL_SERVICE, WEB))
    assert command == nl.CMD_DEL_SERVICE
    assert sorted(attrs[1]) == [1, 2, 3, 4]


@pytest.mark.parametrize(("forwarding", "method"), [("dr", 3), ("local", 3), ("nat", 0), ("tunnel", 2)])
def test_a_real_server_with_every_field(forwarding: str, method: int) -> None:
    rs = RealServer("192.0.2.20", 80, forwarding, 7, 100, 10)
    command, attrs = decode(nl.Operation(nl.CMD_NEW_DEST, WEB, rs))
    assert command == nl.CMD_NEW_DEST
    assert sorted(attrs) == [1, 2]
    assert sorted(attrs[1]) == [1, 2, 3, 4]  # the service by its key only
    dest = attrs[2]
    assert dest[1] == socket.inet_aton("192.0.2.20") + bytes(12)
    assert dest[2] == b"\x00\x50"
    assert [u32(dest[i]) for i in (3, 4, 5, 6)] == [method, 7, 100, 10]
    assert 11 not in dest  # the service's family: no IPVS_DEST_ATTR_ADDR_FAMILY


def test_a_tunnel_real_server_of_the_other_family_says_its_family() -> None:
    key = ServiceKey("tcp", "ipv6", "2001:db8::1", 443)
    _command, attrs = decode(nl.Operation(nl.CMD_SET_DEST, key, RealServer("192.0.2.20", 443, "tunnel")))
    assert u16(attrs[2][11]) == socket.AF_INET
    assert attrs[2][1] == socket.inet_aton("192.0.2.20") + bytes(12)


def test_a_deleted_real_server_is_named_by_address_and_port() -> None:
    _command, attrs = decode(nl.Operation(nl.CMD_DEL_DEST, WEB, RealServer("192.0.2.20", 80)))
    assert sorted(attrs[2]) == [1, 2]


@pytest.mark.parametrize(
    "operation",
    [
        nl.Operation(nl.CMD_NEW_SERVICE, WEB),
        nl.Operation(nl.CMD_NEW_DEST, WEB),
        nl.Operation(99, WEB),
    ],
)
def test_an_operation_without_what_it_needs_is_refused(operation: nl.Operation) -> None:
    with pytest.raises(ValueError, match="command"):
        nl.encode(operation)


def operations(count: int) -> list[nl.Operation]:
    ops = []
    for i in range(count):
        key = ServiceKey("tcp", "ipv4", f"192.0.2.{i % 250 + 1}", 1000 + i)
        ops.append(nl.Operation(nl.CMD_NEW_SERVICE, key, VirtualService(key, "rr")))
        ops.append(nl.Operation(nl.CMD_NEW_DEST, key, RealServer("198.51.100.1", 1000 + i)))
    return ops


def messages(data: bytes) -> list[tuple[int, int, int, int]]:
    """(length, type, flags, sequence) of every request of a batch."""
    found, offset = [], 0
    while offset < len(data):
        length, kind, flags, seq, _port = NLMSG.unpack_from(data, offset)
        found.append((length, kind, flags, seq))
        offset += (length + 3) & ~3
    assert offset == len(data)
    return found


def test_batches_keep_the_order_stay_under_the_limit_and_ask_for_one_ack_each() -> None:
    ops = operations(300)
    sent = list(nl.batches(0x22, ops, 7, limit=4096))
    assert len(sent) > 10
    seqs = []
    for data, first, last in sent:
        assert len(data) <= 4096
        found = messages(data)
        assert [seq for _l, _k, _f, seq in found] == list(range(first, last + 1))
        assert {kind for _l, kind, _f, _s in found} == {0x22}
        assert [flags for _l, _k, flags, _s in found] == [nl.NLM_F_REQUEST] * (len(found) - 1) + [
            nl.NLM_F_REQUEST | nl.NLM_F_ACK]
        seqs += [seq for _l, _k, _f, seq in found]
    assert seqs == list(range(7, 7 + len(ops)))


def test_a_batch_holds_at_most_batch_requests_requests() -> None:
    """However small they are: a batch whose every request fails must get all its errors back."""
    sent = list(nl.batches(0x22, operations(300), 1))
    assert [last - first + 1 for _data, first, last in sent] == [nl.BATCH_REQUESTS] * 4 + [600 - 4 * nl.BATCH_REQUESTS]


def test_one_request_larger_than_the_limit_still_goes_alone() -> None:
    sent = list(nl.batches(0x22, operations(1), 1, limit=10))
    assert [(first, last) for _data, first, last in sent] == [(1, 1), (2, 2)]


def ack(seq: int, error: int = 0) -> bytes:
    body = struct.pack("=i", -error) + NLMSG.pack(16, 0x22, 1, seq, 0)
    return NLMSG.pack(NLMSG.size + len(body), nl.NLMSG_ERROR, 0x100, seq, 0) + body


class FakeSocket:
    """A netlink socket whose kernel fails the requests given, acknowledges the last of each batch."""

    def __init__(self, failing: dict[int, int], split: bool = False) -> None:
        self.failing = failing  # sequence -> errno
        self.split = split  # answer each message in its own recv
        self.sent: list[bytes] = []
        self.pending: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        replies = []
        for _length, _kind, flags, seq in messages(data):
            if seq in self.failing:
                replies.append(ack(seq, self.failing[seq]))
            elif flags & nl.NLM_F_ACK:
                replies.append(ack(seq))
        self.pending += replies if self.split else [b"".join(replies)]
        return len(data)

    def recv(self, _size: int) -> bytes:
        return self.pending.pop(0)

    def close(self) -> None:
        pass


def link(sock: Any, seq: int = 1) -> nl.IpvsNetlink:
    made = nl.IpvsNetlink.__new__(nl.IpvsNetlink)
    made.sock = sock
    made.family = 0x22
    made.seq = seq
    return made


@pytest.mark.parametrize("split", [False, True])
def test_failures_are_told_apart_by_sequence_and_the_rest_is_sent(
    monkeypatch: pytest.MonkeyPatch, split: bool
) -> None:
    monkeypatch.setattr(nl, "BATCH_BYTES", 2048)
    ops = operations(100)
    # the requests get sequence numbers 2, 3, ...: fail the 6th and the 151st
    sock = FakeSocket({7: errno.EEXIST, 152: errno.ESRCH}, split)
    failures = link(sock).apply(ops)
    assert [(f.index, f.error) for f in failures] == [(5, errno.EEXIST), (150, errno.ESRCH)]
    assert sum(len(messages(data)) for data in sock.sent) == 200
    assert failures[0].describe(ops[5].command) == "the real server already exists (EEXIST)"


def test_a_failure_is_described_for_its_command() -> None:
    failure = nl.Failure(0, errno.ENOENT)
    assert failure.describe(nl.CMD_NEW_SERVICE).startswith("scheduler or persistence engine not found")
    assert failure.describe(nl.CMD_DEL_DEST) == "no such real server (ENOENT)"
    assert nl.Failure(0, errno.EPERM).describe(nl.CMD_NEW_DEST) == "Operation not permitted (EPERM)"


def test_the_sequence_goes_on_after_a_batch() -> None:
    sock = FakeSocket({})
    made = link(sock, seq=10)
    made.apply(operations(2))
    assert made.seq == 15
    assert [seq for _l, _k, _f, seq in messages(sock.sent[0])] == [11, 12, 13, 14]


class BrokenSocket(FakeSocket):
    def send(self, data: bytes) -> int:
        if self.sent:
            raise OSError(errno.ENOBUFS, "No buffer space available")
        return super().send(data)


def test_a_socket_error_midway_says_how_far_it_got(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(nl, "BATCH_BYTES", 2048)
    with pytest.raises(LvsDrError, match=r"No buffer space available \(after \d+ of 200 changes were sent\)"):
        link(BrokenSocket({})).apply(operations(100))


def test_replies_reject_a_message_that_does_not_fit() -> None:
    with pytest.raises(LvsDrError, match="does not fit"):
        list(nl.replies(NLMSG.pack(64, nl.NLMSG_ERROR, 0, 1, 0)))


def test_without_an_ipvs_family_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoFamily(FakeSocket):
        def bind(self, _address: Any) -> None:
            pass

        def setsockopt(self, *_args: Any) -> None:
            raise OSError(errno.ENOPROTOOPT, "old kernel")

        def send(self, data: bytes) -> int:
            self.sent.append(data)
            self.pending.append(ack(1, errno.ENOENT))
            return len(data)

    made = NoFamily({})
    monkeypatch.setattr(nl.socket, "socket", lambda *_args: made)
    with pytest.raises(nl.NetlinkUnavailable, match="no IPVS generic netlink family"):
        nl.apply(operations(1))
    assert len(made.sent) == 1  # the controller's question only


def test_the_family_id_is_read_from_the_controllers_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    class Controller(FakeSocket):
        def bind(self, _address: Any) -> None:
            pass

        def setsockopt(self, *_args: Any) -> None:
            pass

        def send(self, data: bytes) -> int:
            if not self.sent:
                self.sent.append(data)
                name = nl.attribute(2, b"IPVS\0")
                family = nl.attribute(1, struct.pack("=H", 0x27))
                body = struct.pack("=BBH", 1, 2, 0) + name + family
                # the family, then the acknowledgement the request asked for
                self.pending.append(NLMSG.pack(NLMSG.size + len(body), 0x10, 0, 1, 0) + body + ack(1))
                return len(data)
            return super().send(data)

    made = Controller({})
    monkeypatch.setattr(nl.socket, "socket", lambda *_args: made)
    assert nl.apply(operations(2)) == []
    assert {kind for _l, kind, _f, _s in messages(made.sent[1])} == {0x27}
