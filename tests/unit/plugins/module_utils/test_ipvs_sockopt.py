"""ipvs_sockopt against replies recorded from the test bed's kernel, compared with ipvsadm's listing of the same moment.

Each ``fixtures/ipvs_sockopt/NAME.json`` was written by ``record.py`` beside it in a privileged container of
the test bed (Debian 12's kernel 6.1, ipvsadm 1.31): the table of ``NAME.rules``, the getsockopt and netlink
replies the reader got, its outcome, and ``ipvsadm -Ln --thresholds``, ``ipvsadm -Ln`` and /proc/net/ip_vs
read at the same time.
"""

from __future__ import annotations

import errno
import json
import socket
import struct
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_sockopt
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    merge_listings,
    merge_proc,
    parse_listing,
    parse_proc_ip_vs,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_sockopt import SockoptUnavailable

FIXTURES = Path(__file__).parent / "fixtures" / "ipvs_sockopt"
RECORDED = sorted(path.stem for path in FIXTURES.glob("*.json"))


def recorded(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class Replay:
    """The kernel of one recording: getsockopt and the netlink link answer as they did then."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.calls = list(data["calls"])
        self.netlink = list(data["netlink"])
        self.seq = 0

    def get(self, option: int, request: bytes) -> bytes:
        call = self.calls.pop(0)
        assert (option, request.hex()) == (call["option"], call["request"])
        return bytes.fromhex(call["reply"])

    def request(self, *_args: Any, **_kwargs: Any) -> list[bytes]:
        reply = self.netlink.pop(0)
        self.seq = reply["seq"]
        return [bytes.fromhex(chunk) for chunk in reply["chunks"]]

    def families(self) -> list[int]:
        return ipvs_sockopt.service_families(self)  # type: ignore[arg-type]


def test_recordings_cover_every_case() -> None:
    outcomes = {name: recorded(name)["outcome"] for name in RECORDED}
    assert sum(outcome == "table" for outcome in outcomes.values()) >= 4
    assert {outcome.split(":")[0] for outcome in outcomes.values()} == {"table", "unavailable"}


@pytest.mark.parametrize("name", RECORDED)
def test_the_same_model_as_ipvsadm_or_nothing(name: str) -> None:
    data = recorded(name)
    replay = Replay(data)
    if data["outcome"] != "table":
        with pytest.raises(SockoptUnavailable) as failure:
            ipvs_sockopt.read_table(replay.get, replay.families)
        assert data["outcome"] == f"unavailable: {failure.value.msg}"
        return
    table = ipvs_sockopt.read_table(replay.get, replay.families)
    assert not replay.calls and not replay.netlink  # every recorded call made, in the same order
    # what Ipvsadm.read_table gives: weights from /proc/net/ip_vs, or from ipvsadm -Ln when that file is short
    listing = parse_listing(data["listing"], "thresholds")
    if not merge_proc(listing, parse_proc_ip_vs(data["proc_ip_vs"])):
        assert name == "bench50"  # the kernel's file skips entries past its first page (other namespaces' tables)
        thresholds = parse_listing(data["listing"], "thresholds")
        listing = merge_listings(parse_listing(data["listing_weights"]), thresholds=thresholds)
    assert table.described() == listing.described()


def test_the_mixed_table_has_what_it_is_for() -> None:
    """Fwmark 2^32-1, scheduler flags, ops, thresholds, weights 0 and 65535, NAT/tunnel, libipvs's wrap order."""
    replay = Replay(recorded("ipv4_mixed"))
    table = ipvs_sockopt.read_table(replay.get, replay.families)
    by_rule = {svc.key.rule(): svc for svc in table.services}
    assert table.services[0].key.fwmark == 2**32 - 1  # -1 to libipvs: first
    assert by_rule["-u 192.0.2.2:53"].scheduler_flags == ("sh-fallback", "sh-port")
    assert by_rule["-u 192.0.2.2:54"].scheduler_flags == ("mh-port",)
    assert by_rule["-t 192.0.2.7:81"].scheduler_flags == ("flag-1",)
    assert by_rule["-u 192.0.2.9:514"].one_packet
    web = by_rule["-t 192.0.2.1:80"]
    assert [rs.address for rs in web.real_servers][:2] == ["192.168.0.4", "203.0.113.9"]  # before 10.0.0.1
    assert {(rs.forwarding, rs.weight, rs.upper_threshold, rs.lower_threshold) for rs in web.real_servers} >= {
        ("nat", 5, 0, 0), ("tunnel", 3, 0, 0), ("dr", 0, 100, 10)}


def nlmsg(kind: int, seq: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, 0, seq, 0) + body


def test_a_netlink_error_reply_raises() -> None:
    with pytest.raises(SockoptUnavailable, match="EPERM"):
        ipvs_sockopt.families_of([nlmsg(2, 1, struct.pack("=i", -errno.EPERM))], 1)


def test_a_reply_of_another_request_raises() -> None:
    with pytest.raises(SockoptUnavailable, match="sequence 2"):
        ipvs_sockopt.families_of([nlmsg(3, 2, struct.pack("=i", 0))], 1)


def test_a_reply_without_its_end_raises() -> None:
    with pytest.raises(SockoptUnavailable, match="without its end"):
        ipvs_sockopt.families_of([], 1)


def test_a_service_message_of_another_layout_raises() -> None:
    body = struct.pack("=BBH", 1, 1, 0) + struct.pack("=HH", 16, 1) + struct.pack("=HHH2x", 6, 2, 6)  # protocol
    with pytest.raises(SockoptUnavailable, match="another layout"):
        ipvs_sockopt.families_of([nlmsg(16, 1, body) + nlmsg(3, 1, bytes(4))], 1)


def test_families_of_reads_only_the_address_family() -> None:
    def service(family: int) -> bytes:
        return nlmsg(16, 5, struct.pack("=BBH", 1, 1, 0) + struct.pack("=HH", 12, 0x8001)
                     + struct.pack("=HHH2x", 6, 1, family))

    chunks = [service(socket.AF_INET) + service(socket.AF_INET6), nlmsg(3, 5, bytes(4))]
    assert ipvs_sockopt.families_of(chunks, 5) == [socket.AF_INET, socket.AF_INET6]


def test_a_reply_shorter_than_asked_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    replay = Replay(recorded("bench50"))
    first = replay.get

    def short(option: int, request: bytes) -> bytes:
        return first(option, request)[:-1]

    with pytest.raises(SockoptUnavailable, match="unexpected IPVS sockopt reply"):
        ipvs_sockopt.read_table(short, replay.families)


def test_the_layouts_are_the_kernels_on_this_platform() -> None:
    assert ipvs_sockopt.abi_matches()
