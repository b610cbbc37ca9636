"""arp: frame building and parsing, answer selection, validation, and the probe loop on a fake socket."""

from __future__ import annotations

import errno
import socket
import struct
from typing import Any, Optional

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import arp

OWN = bytes.fromhex("020000000001")
OWN_TEXT = "02:00:00:00:00:01"
PEER = bytes.fromhex("0a1b2c3d4e5f")
PEER_TEXT = "0a:1b:2c:3d:4e:5f"
VIP = "192.0.2.150"

# The DAD probe for 192.0.2.150 from 02:00:00:00:00:01, written out field by field (RFC 826 / RFC 5227).
DAD_FRAME = bytes.fromhex(
    "ffffffffffff 020000000001 0806"  # Ethernet: broadcast, our MAC, ARP
    + "0001 0800 06 04 0001"  # Ethernet/IPv4, 6/4 byte addresses, request
    + "020000000001 00000000"  # sender MAC, sender IP 0.0.0.0
    + "000000000000 c0000296"  # target MAC unknown, target IP 192.0.2.150
) + bytes(18)  # padded to the 60-byte Ethernet minimum


def frame(operation: int, sha: bytes, spa: str, tha: bytes = bytes(6), tpa: str = "0.0.0.0",
          dst: bytes = OWN, ethertype: int = 0x0806, htype: int = 1, ptype: int = 0x0800) -> bytes:
    return struct.pack("!6s6sH", dst, sha, ethertype) + struct.pack(
        "!HHBBH6s4s6s4s", htype, ptype, 6, 4, operation, sha, socket.inet_aton(spa), tha, socket.inet_aton(tpa)
    )


def reply(sha: bytes = PEER, spa: str = VIP) -> bytes:
    """What Linux sends back to a DAD probe: unicast to the prober, target IP 0.0.0.0."""
    return frame(2, sha, spa, OWN, "0.0.0.0")


# --------------------------------------------------------------------------- building and parsing


def test_build_dad_probe_byte_for_byte() -> None:
    assert arp.build_request(OWN, "0.0.0.0", VIP) == DAD_FRAME


def test_build_request_with_source() -> None:
    built = arp.build_request(OWN, "198.51.100.10", VIP)
    assert len(built) == 60 and built[28:32] == bytes([198, 51, 100, 10])
    assert arp.parse_frame(built) == arp.ArpPacket(1, OWN_TEXT, "198.51.100.10", "00:00:00:00:00:00", VIP)


def test_build_request_rejects_a_short_mac() -> None:
    with pytest.raises(ValueError, match="6 bytes"):
        arp.build_request(OWN[:5], "0.0.0.0", VIP)


def test_parse_reply() -> None:
    assert arp.parse_frame(reply()) == arp.ArpPacket(2, PEER_TEXT, VIP, OWN_TEXT, "0.0.0.0")


def test_parse_ignores_trailing_padding() -> None:
    assert arp.parse_frame(reply() + bytes(18)) == arp.parse_frame(reply())


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(reply()[:41], id="truncated"),
        pytest.param(b"", id="empty"),
        pytest.param(frame(2, PEER, VIP, ethertype=0x0800), id="ipv4-not-arp"),
        pytest.param(frame(2, PEER, VIP, htype=6), id="ieee802-hardware"),
        pytest.param(frame(2, PEER, VIP, ptype=0x86DD), id="not-ipv4-protocol"),
    ],
)
def test_parse_rejects(data: bytes) -> None:
    assert arp.parse_frame(data) is None


def test_format_mac() -> None:
    assert arp.format_mac(bytes.fromhex("00ff0a0b0c0d")) == "00:ff:0a:0b:0c:0d"


# --------------------------------------------------------------------------- what counts as an answer


def packet(data: bytes) -> arp.ArpPacket:
    parsed = arp.parse_frame(data)
    assert parsed is not None
    return parsed


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(reply(), True, id="reply"),
        pytest.param(frame(1, PEER, VIP, tpa="192.0.2.1"), True, id="request-using-the-address"),
        pytest.param(frame(1, PEER, VIP, tpa=VIP), True, id="gratuitous-announcement"),
        pytest.param(reply(spa="192.0.2.151"), False, id="reply-for-another-address"),
        pytest.param(reply(sha=OWN), False, id="our-own-mac"),
        pytest.param(frame(1, PEER, "0.0.0.0", tpa=VIP), False, id="another-prober"),
        pytest.param(frame(3, PEER, VIP), False, id="rarp-operation"),
    ],
)
def test_is_answer(data: bytes, expected: bool) -> None:
    assert arp.is_answer(packet(data), VIP, OWN_TEXT) is expected


def test_collect_answers_deduplicates_in_arrival_order() -> None:
    other = bytes.fromhex("0a0000000002")
    packets = [packet(d) for d in (reply(), reply(other), reply(), reply(spa="192.0.2.1"), reply(other))]
    assert arp.collect_answers(packets, VIP, OWN_TEXT) == [
        {"mac": PEER_TEXT, "ip": VIP},
        {"mac": "0a:00:00:00:00:02", "ip": VIP},
    ]


@pytest.mark.parametrize(
    ("count", "timeout", "expected"),
    [(3, 2.0, [0.0, 2 / 3, 4 / 3]), (1, 5.0, [0.0]), (4, 1.0, [0.0, 0.25, 0.5, 0.75])],
)
def test_send_times(count: int, timeout: float, expected: list[float]) -> None:
    assert arp.send_times(count, timeout) == pytest.approx(expected)


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("value", "expected"), [(VIP, VIP), (" 10.0.0.1 ", "10.0.0.1"), ("198.51.100.255", "198.51.100.255")]
)
def test_validate_target(value: str, expected: str) -> None:
    assert arp.validate_target(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2001:db8::150", "address: '2001:db8::150' is an IPv6 address; ARP exists for IPv4 only"),
        ("192.0.2.999", "address: '192.0.2.999' is not an IPv4 address"),
        ("192.0.2.150/24", "address: '192.0.2.150/24' is not an IPv4 address"),
        ("vip.example", "address: 'vip.example' is not an IPv4 address"),
        ("", "address: '' is not an IPv4 address"),
        (3232235520, "address: 3232235520 is not an IPv4 address"),
        ("0.0.0.0", "address: 0.0.0.0 cannot be probed"),
        ("224.0.0.1", "address: 224.0.0.1 cannot be probed"),
        ("255.255.255.255", "address: 255.255.255.255 cannot be probed"),
    ],
)
def test_validate_target_errors(value: Any, message: str) -> None:
    with pytest.raises(arp.ArpError) as error:
        arp.validate_target(value)
    assert str(error.value).startswith(message) and error.value.parameter == "address"


def test_ipv6_error_says_ndp_is_out_of_scope() -> None:
    with pytest.raises(arp.ArpError, match="neighbour discovery"):
        arp.validate_target("fe80::1")


@pytest.mark.parametrize(("value", "expected"), [(None, "0.0.0.0"), ("198.51.100.10", "198.51.100.10")])
def test_validate_source(value: Optional[str], expected: str) -> None:
    assert arp.validate_source(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [("2001:db8::1", "is an IPv6 address"), ("10.0.0.300", "is not an IPv4 address"),
     ("224.0.0.5", "cannot be the sender")],
)
def test_validate_source_errors(value: str, message: str) -> None:
    with pytest.raises(arp.ArpError, match=message) as error:
        arp.validate_source(value)
    assert error.value.parameter == "source" and str(error.value).startswith("source: ")


@pytest.mark.parametrize("value", ["eth0", "ens33", "bond0.100", "x" * 15])
def test_validate_device(value: str) -> None:
    assert arp.validate_device(value) == value


@pytest.mark.parametrize("value", ["", "x" * 16, "eth0:8", "a/b", "e h", None])
def test_validate_device_errors(value: Any) -> None:
    with pytest.raises(arp.ArpError) as error:
        arp.validate_device(value)
    assert str(error.value).startswith("device: ") and error.value.parameter == "device"


@pytest.mark.parametrize("value", [1, 3, 1000])
def test_validate_count(value: int) -> None:
    assert arp.validate_count(value) == value


@pytest.mark.parametrize("value", [0, -1, 1001, True, 2.5, "3"])
def test_validate_count_errors(value: Any) -> None:
    with pytest.raises(arp.ArpError, match=r"^count: must be an integer between 1 and 1000 \(got "):
        arp.validate_count(value)


@pytest.mark.parametrize("value", [0.1, 2, 300])
def test_validate_timeout(value: float) -> None:
    assert arp.validate_timeout(value) == float(value)


@pytest.mark.parametrize("value", [0, -1, 300.5, False, "2"])
def test_validate_timeout_errors(value: Any) -> None:
    with pytest.raises(arp.ArpError, match=r"^timeout: must be a number of seconds above 0 and at most 300"):
        arp.validate_timeout(value)


# --------------------------------------------------------------------------- the probe loop, on a fake socket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeSocket:
    """Frames arrive at fixed times; recvfrom advances the fake clock like a blocking read with a timeout."""

    def __init__(self, clock: FakeClock, arrivals: list[tuple[float, bytes, tuple[Any, ...]]],
                 send_error: Optional[OSError] = None) -> None:
        self.clock = clock
        self.arrivals = sorted(arrivals, key=lambda item: item[0])
        self.sent: list[tuple[float, bytes]] = []
        self.timeout = 0.0
        self.closed = False
        self.send_error = send_error
        self.stalls: dict[float, float] = {}

    def send(self, data: bytes) -> int:
        if self.send_error:
            raise self.send_error
        self.sent.append((self.clock.now - 100.0, data))
        return len(data)

    def settimeout(self, value: float) -> None:
        self.timeout = value

    def recvfrom(self, _size: int) -> tuple[bytes, tuple[Any, ...]]:
        deadline = self.clock.now + self.timeout
        if self.arrivals and 100.0 + self.arrivals[0][0] <= deadline:
            at, data, address = self.arrivals.pop(0)
            # the process may get the CPU back only later (a loaded host): stalls maps arrival -> resume time
            self.clock.now = max(self.clock.now, 100.0 + self.stalls.get(at, at))
            return data, address
        if self.timeout == 0:  # non-blocking: nothing queued
            raise BlockingIOError(11, "Resource temporarily unavailable")
        self.clock.now = deadline
        raise socket.timeout

    def close(self) -> None:
        self.closed = True


def incoming(device: str = "eth0", pkttype: int = 0) -> tuple[Any, ...]:
    return (device, 0x0806, pkttype, 1, PEER)


def run_probe(arrivals: list[tuple[float, bytes, tuple[Any, ...]]], targets: tuple[str, ...] = (VIP,),
              **kwargs: Any) -> tuple[dict, FakeSocket]:
    clock = FakeClock()
    fake = FakeSocket(clock, arrivals, kwargs.pop("send_error", None))
    fake.stalls = kwargs.pop("stalls", {})
    result = arp.probe("eth0", list(targets), clock=clock, opener=lambda _device: (fake, OWN), **kwargs)
    return result, fake


def test_probe_schedule_and_result_without_answers() -> None:
    result, fake = run_probe([])
    assert [at for at, _data in fake.sent] == pytest.approx([0.0, 2 / 3, 4 / 3])
    assert all(data == DAD_FRAME for _at, data in fake.sent)
    assert fake.closed
    assert result == {
        "results": [{"address": VIP, "answered": False, "answers": []}], "device": "eth0", "device_mac": OWN_TEXT,
        "source": "0.0.0.0", "sent": 3,
    }


def test_probe_collects_answers_until_the_timeout() -> None:
    other = bytes.fromhex("0a0000000002")
    arrivals = [
        (0.01, reply(), incoming()),
        (0.70, reply(), incoming()),
        (1.90, reply(other), incoming()),
        (2.50, reply(bytes.fromhex("0a0000000003")), incoming()),  # after the timeout: missed
    ]
    result, _fake = run_probe(arrivals)
    (found,) = result["results"]
    assert found["answered"] is True
    assert found["answers"] == [{"mac": PEER_TEXT, "ip": VIP}, {"mac": "0a:00:00:00:00:02", "ip": VIP}]


def test_probe_keeps_answers_queued_while_it_waited_for_the_cpu() -> None:
    # The answer at 1.8 s is read, then the process gets no CPU until 2.3 s, past the 2 s timeout: the
    # answer that arrived at 1.9 s is already queued and counts; the one at 2.5 s is late.
    arrivals = [
        (1.80, reply(), incoming()),
        (1.90, reply(bytes.fromhex("0a0000000002")), incoming()),
        (2.50, reply(bytes.fromhex("0a0000000003")), incoming()),
    ]
    result, fake = run_probe(arrivals, stalls={1.80: 2.30})
    assert [answer["mac"] for answer in result["results"][0]["answers"]] == [PEER_TEXT, "0a:00:00:00:00:02"]
    assert fake.closed


def test_probe_ignores_outgoing_frames_and_other_devices() -> None:
    arrivals = [
        (0.0, reply(), incoming(pkttype=arp.PACKET_OUTGOING)),  # our own transmission seen by the tap
        (0.1, reply(), incoming(device="eth1")),  # queued before bind() from another device
        (0.2, b"\x00" * 10, incoming()),  # garbage
    ]
    result, _fake = run_probe(arrivals)
    assert result["results"][0]["answered"] is False


def test_probe_with_source_and_count() -> None:
    result, fake = run_probe([], sender_ip="198.51.100.10", count=1, timeout=0.5)
    assert result["sent"] == 1 and result["source"] == "198.51.100.10"
    assert fake.sent[0][1] == arp.build_request(OWN, "198.51.100.10", VIP)


def test_probe_asks_for_every_address_in_each_round_and_sorts_the_answers() -> None:
    rs1, rs2, silent = "192.0.2.128", "192.0.2.129", "192.0.2.131"
    arrivals = [
        (0.05, reply(bytes.fromhex("0a0000000002"), rs2), incoming()),
        (0.10, reply(bytes.fromhex("0a0000000001"), rs1), incoming()),
        (0.80, reply(bytes.fromhex("0a0000000001"), rs1), incoming()),  # the second round's answer: counted once
    ]
    result, fake = run_probe(arrivals, targets=(rs1, rs2, silent), count=2, timeout=1.0)
    assert result["sent"] == 2
    # one request per address per round, all of a round at once
    assert list(fake.sent) == [
        (0.0, arp.build_request(OWN, "0.0.0.0", rs1)), (0.0, arp.build_request(OWN, "0.0.0.0", rs2)),
        (0.0, arp.build_request(OWN, "0.0.0.0", silent)),
        (pytest.approx(0.5), arp.build_request(OWN, "0.0.0.0", rs1)),
        (pytest.approx(0.5), arp.build_request(OWN, "0.0.0.0", rs2)),
        (pytest.approx(0.5), arp.build_request(OWN, "0.0.0.0", silent))]
    assert result["results"] == [
        {"address": rs1, "answered": True, "answers": [{"mac": "0a:00:00:00:00:01", "ip": rs1}]},
        {"address": rs2, "answered": True, "answers": [{"mac": "0a:00:00:00:00:02", "ip": rs2}]},
        {"address": silent, "answered": False, "answers": []},
    ]


@pytest.mark.parametrize(("value", "message"), [
    ([], "addresses: give a non-empty list of IPv4 addresses (got [])"),
    ("192.0.2.1", "addresses: give a non-empty list of IPv4 addresses (got '192.0.2.1')"),
    (["192.0.2.1", "2001:db8::1"], "addresses[1]: '2001:db8::1' is an IPv6 address"),
    (["192.0.2.1", "192.0.2.300"], "addresses[1]: '192.0.2.300' is not an IPv4 address"),
    (["224.0.0.1"], "addresses[0]: 224.0.0.1 cannot be probed with ARP"),
])
def test_validate_targets_errors_name_the_entry(value: Any, message: str) -> None:
    with pytest.raises(arp.ArpError) as error:
        arp.validate_targets(value)
    assert error.value.msg.startswith(message)
    assert error.value.parameter == message.split(":", maxsplit=1)[0]


def test_validate_targets_drops_duplicates_in_order() -> None:
    assert arp.validate_targets(["192.0.2.2", "192.0.2.1", " 192.0.2.2"]) == ["192.0.2.2", "192.0.2.1"]


def test_probe_on_a_down_device() -> None:
    with pytest.raises(arp.ArpError, match="device: 'eth0' is down") as error:
        run_probe([], send_error=OSError(errno.ENETDOWN, "Network is down"))
    assert error.value.parameter == "device"


def test_open_socket_unknown_device() -> None:
    with pytest.raises(arp.ArpError, match="device: no such interface: 'lvsdr-none0'"):
        arp.open_socket("lvsdr-none0")
