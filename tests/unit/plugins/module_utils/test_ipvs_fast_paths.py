"""The fast paths for the common shape (validate_request, parse_listing) give what the general code gives.

Each case runs both ways (``fast=True``, the default, and ``fast=False``) and compares the whole result, or the
exception's type and message when the input is bad: recorded listings, generated large tables mixing the
common shape with every odd case (IPv6, fwmark, persistence, thresholds, UDP/SCTP, NAT/tunnel), and requests
that sit just outside the fast path's shape.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    IpvsParseError,
    _plain_server,
    _proc_address,
    merge_proc,
    parse_listing,
    parse_proc_ip_vs,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import (
    ValidationError,
    _plain_service,
    validate_request,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ipvsadm"


def both_ways(call: Callable[[bool], Any]) -> Any:
    """call(True) and call(False) return equal results or raise the same error; the result."""
    outcomes = []
    for fast in (True, False):
        try:
            outcomes.append(("ok", call(fast)))
        except (ValidationError, IpvsParseError, ValueError) as exc:
            outcomes.append((type(exc).__name__, str(exc), getattr(exc, "parameter", None)))
    assert outcomes[0] == outcomes[1]
    return outcomes[0]


# --------------------------------------------------------------------------- listings


@pytest.mark.parametrize(("name", "fmt"), [("Ln.txt", "list"), ("Ln_thresholds.txt", "thresholds"),
                                           ("Ln_empty.txt", "list"), ("Ln_empty.txt", "thresholds")])
def test_recorded_listings_parse_the_same(name: str, fmt: str) -> None:
    text = (FIXTURES / name).read_text()
    kind = both_ways(lambda fast: parse_listing(text, fmt, fast=fast))[0]
    assert kind == "ok"


def service_line(rng: random.Random, i: int) -> tuple[str, bool]:
    """One service line of a listing (ipvsadm's widths), and whether it is the common shape."""
    odd = rng.random() < 0.3
    if not odd:
        return f"{rng.choice(['TCP ', 'UDP ', 'SCTP'])} 198.18.{i // 250}.{i % 250 + 1}:{rng.choice([80, 443, 53])} " \
               f"{rng.choice(['rr', 'wlc', 'mh'])}      ", True
    return rng.choice([
        f"TCP  [2001:db8::{i:x}]:80 wrr persistent 600 mask 64",
        f"FWM  {i + 1} lc persistent 360",
        f"FWM  {i + 1} IPv6 wlc persistent 300 pe sip",
        f"UDP  198.18.{i // 250}.{i % 250 + 1}:53 wlc ops",
        f"SCTP 198.18.{i // 250}.{i % 250 + 1}:3868 mh (mh-fallback,mh-port)",
        f"TCP  198.18.{i // 250}.{i % 250 + 1}:443 sh (sh-fallback,sh-port) persistent 300 mask 255.255.255.0",
        f"FWM  -{i + 1} rr",
    ]), False


def server_line(rng: random.Random, fmt: str, j: int, v6: bool) -> str:
    address = f"[2001:db8::1:{j:x}]:80" if v6 else f"198.19.{j // 250}.{j % 250 + 1}:{rng.choice([80, 0, 5353])}"
    if fmt == "thresholds":
        upper, lower = rng.choice([(0, 0), (1000, 800), (200, 100)])
        return f"  -> {address:<28} {upper:<10} {lower:<10} {rng.randrange(3):<10} {rng.randrange(30):<10}"
    forward = rng.choice(["Route", "Route", "Masq", "Tunnel", "Local"])
    return f"  -> {address:<28} {forward:<7} {rng.randrange(5):<6} {rng.randrange(3):<10} {rng.randrange(30):<10}"


def generated_listing(fmt: str, seed: int, services: int = 400) -> str:
    rng = random.Random(seed)
    lines = ["IP Virtual Server version 1.2.1 (size=4096)"]
    if fmt == "thresholds":
        lines += ["Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
                  "  -> RemoteAddress:Port"]
    else:
        lines += ["Prot LocalAddress:Port Scheduler Flags",
                  "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]
    j = 0
    for i in range(services):
        line, _plain = service_line(rng, i)
        lines.append(line)
        v6 = "2001:" in line or "IPv6" in line
        for _server in range(rng.randrange(4)):
            lines.append(server_line(rng, fmt, j, v6))
            j += 1
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("fmt", ["list", "thresholds"])
@pytest.mark.parametrize("seed", range(5))
def test_generated_listings_parse_the_same(fmt: str, seed: int) -> None:
    text = generated_listing(fmt, seed)
    kind, table = both_ways(lambda fast: parse_listing(text, fmt, fast=fast))
    assert kind == "ok" and len(table.services) == 400


@pytest.mark.parametrize("line", [
    "TCP  198.18.0.1:70000 rr",  # port out of range: the general code's error
    "TCP  198.18.0.01:80 rr",  # not canonical: the general code normalises it
    "TCP  198.18.0.1:080 rr",
    "TCP  198.18.0.1:80 rr extra",
    "TCP  198.18.0.300:80 rr",
    "  TCP  198.18.0.1:80 rr",
    "XYZ  198.18.0.1:80 rr",
    "?    198.18.0.1:80 rr",
])
@pytest.mark.parametrize("fmt", ["list", "thresholds"])
def test_odd_service_lines_parse_the_same(line: str, fmt: str) -> None:
    text = f"IP Virtual Server version 1.2.1 (size=4096)\n{line}\n"
    both_ways(lambda fast: parse_listing(text, fmt, fast=fast))


@pytest.mark.parametrize("server", [
    "  -> 198.19.0.1:70000              0          0          0          0",
    "  -> 198.19.0.01:80                0          0          0          0",
    "  -> 198.19.0.1:80                 -1         0          0          0",
    "  -> 198.19.0.1:80                 0          0          0",
    "  -> 198.19.0.1:80                 0          0          0          0          0",
    "  -> 198.19.0.1:80                 Route      1          0          0",
    "  -> 198.19.0.1:80                 Bogus      1          0          0",
    "  -> 198.19.0.1:80                 Route      x          0          0",
    "   -> 198.19.0.1:80                0          0          0          0",
    "  -> 198.19.0.1                    0          0          0          0",
])
@pytest.mark.parametrize("fmt", ["list", "thresholds"])
def test_odd_server_lines_parse_the_same(server: str, fmt: str) -> None:
    for head in ("TCP  198.18.0.1:80 rr", "FWM  7 rr", "?    198.18.0.1:80 rr"):
        text = f"IP Virtual Server version 1.2.1 (size=4096)\n{head}\n{server}\n"
        both_ways(lambda fast, text=text: parse_listing(text, fmt, fast=fast))


def test_real_server_before_any_service_is_skipped_both_ways() -> None:
    text = "  -> 198.19.0.1:80                0          0          0          0\n"
    assert both_ways(lambda fast: parse_listing(text, "thresholds", fast=fast))[1].services == []


@pytest.mark.parametrize(("token", "expected"), [
    ("C0000281:0050", ("192.0.2.129", 80)),
    ("00000000:0000", ("0.0.0.0", 0)),
    ("FFFFFFFF:FFFF", ("255.255.255.255", 65535)),
    ("c0000281:01bb", ("192.0.2.129", 443)),
    ("[2001:0db8:0000:0000:0000:0000:0000:0150]:0050", ("2001:db8::150", 80)),
])
def test_proc_address_ipv4_shortcut(token: str, expected: tuple[str, int]) -> None:
    assert _proc_address(token) == expected


def test_proc_file_of_a_generated_table_merges_into_its_listing() -> None:
    """The thresholds listing (fast path) and /proc/net/ip_vs describe the same real servers."""
    lines = ["IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
             "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn"]
    listing = ["IP Virtual Server version 1.2.1 (size=4096)",
               "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn ",
               "  -> RemoteAddress:Port"]
    for i in range(300):
        vip = f"198.18.{i // 250}.{i % 250 + 1}"
        packed = "".join(f"{int(part):02X}" for part in vip.split("."))
        lines.append(f"{'UDP' if i % 3 else 'TCP'}  {packed}:0050 rr  ")
        listing.append(f"{'UDP' if i % 3 else 'TCP'}  {vip}:80 rr")
        for j in range(3):
            rip = f"198.19.{(3 * i + j) // 250}.{(3 * i + j) % 250 + 1}"
            packed = "".join(f"{int(part):02X}" for part in rip.split("."))
            lines.append(f"  -> {packed}:0050      {'Masq' if j == 2 else 'Route':<7} {j + 1:<6} 0          0         ")
            listing.append(f"  -> {rip + ':80':<28} {100 * j:<10} {0:<10} {0:<10} {0:<10}")
    table = parse_listing("\n".join(listing) + "\n", "thresholds")
    assert merge_proc(table, parse_proc_ip_vs("\n".join(lines) + "\n"))
    assert [(rs.forwarding, rs.weight, rs.upper_threshold) for rs in table.services[7].real_servers] == [
        ("dr", 1, 0), ("dr", 2, 100), ("nat", 3, 200)]


# --------------------------------------------------------------------------- requests


def plain(i: int, servers: int = 3) -> dict[str, Any]:
    return {"address": f"198.18.{i // 250}.{i % 250 + 1}", "port": 80, "scheduler": "rr",
            "real_servers": [{"address": f"198.19.{(3 * i + j) // 250}.{(3 * i + j) % 250 + 1}", "weight": 1}
                             for j in range(servers)]}


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = {**base, **changes}
    return {key: value for key, value in out.items() if value is not DROP}


def server_with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    servers = [dict(rs) for rs in base["real_servers"]]
    servers[1] = {key: value for key, value in {**servers[1], **changes}.items() if value is not DROP}
    return {**base, "real_servers": servers}


DROP = object()
BASE = plain(5)

# one entry each, at the edge of the fast path's shape or outside it: the same desired service or the same error
ENTRIES = {
    "plain": BASE,
    "udp": with_(BASE, protocol="udp"),
    "sctp": with_(BASE, protocol="sctp"),
    "protocol-none": with_(BASE, protocol=None),
    "protocol-empty": with_(BASE, protocol=""),
    "protocol-bad": with_(BASE, protocol="icmp"),
    "protocol-upper": with_(BASE, protocol="TCP"),
    "scheduler-default": with_(BASE, scheduler=DROP),
    "scheduler-none": with_(BASE, scheduler=None),
    "scheduler-bad": with_(BASE, scheduler="fastest"),
    "scheduler-flags": with_(BASE, scheduler="sh", scheduler_flags=["sh-port"]),
    "persistent": with_(BASE, persistence_timeout=300),
    "persistent-netmask": with_(BASE, persistence_timeout=300, persistence_netmask="255.255.255.0"),
    "persistent-port-zero": with_(BASE, port=0, persistence_timeout=300),
    "port-zero": with_(BASE, port=0),
    "port-high": with_(BASE, port=65536),
    "port-text": with_(BASE, port="80"),
    "port-bool": with_(BASE, port=True),
    "port-none": with_(BASE, port=None),
    "port-float": with_(BASE, port=80.0),
    "ipv6": {**with_(BASE, address="2001:db8::150"),
             "real_servers": [{"address": "2001:db8::128"}, {"address": "2001:db8::129", "weight": 3}]},
    "ipv6-uncompressed": {**with_(BASE, address="2001:0db8:0:0::150"), "real_servers": []},
    "address-not-canonical": with_(BASE, address="198.018.0.6"),
    "address-spaces": with_(BASE, address=" 198.18.0.6 "),
    "address-bad": with_(BASE, address="198.18.0.300"),
    "address-none": with_(BASE, address=None),
    "address-int": with_(BASE, address=3323068422),
    "fwmark": {"fwmark": 7, "real_servers": [{"address": "198.19.0.1"}]},
    "fwmark-ipv6": {"fwmark": 7, "family": "ipv6", "real_servers": [{"address": "2001:db8::1"}]},
    "family-with-address": with_(BASE, family="ipv4"),
    "absent": with_(BASE, state="absent"),
    "state-none": with_(BASE, state=None),
    "state-bad": with_(BASE, state="gone"),
    "unknown-key": with_(BASE, wieght=1),
    "no-real-servers": with_(BASE, real_servers=DROP),
    "real-servers-none": with_(BASE, real_servers=None),
    "real-servers-empty": with_(BASE, real_servers=[]),
    "real-servers-dict": with_(BASE, real_servers={"address": "198.19.0.1"}),
    "real-servers-tuple": with_(BASE, real_servers=({"address": "198.19.0.1"},)),
    "rs-not-dict": with_(BASE, real_servers=["198.19.0.1"]),
    "rs-unknown-key": server_with(BASE, wieght=2),
    "rs-weight-default": server_with(BASE, weight=DROP),
    "rs-weight-none": server_with(BASE, weight=None),
    "rs-weight-zero": server_with(BASE, weight=0),
    "rs-weight-max": server_with(BASE, weight=65535),
    "rs-weight-high": server_with(BASE, weight=70000),
    "rs-weight-negative": server_with(BASE, weight=-1),
    "rs-weight-text": server_with(BASE, weight="2"),
    "rs-weight-bool": server_with(BASE, weight=True),
    "rs-port-same": server_with(BASE, port=80),
    "rs-port-other": server_with(BASE, port=8080),
    "rs-port-text": server_with(BASE, port="80"),
    "rs-port-none": server_with(BASE, port=None),
    "rs-forwarding-dr": server_with(BASE, forwarding="dr"),
    "rs-forwarding-empty": server_with(BASE, forwarding=""),
    "rs-nat-port": server_with(BASE, forwarding="nat", port=8080),
    "rs-tunnel": server_with(BASE, forwarding="tunnel"),
    "rs-tunnel-ipv6": server_with(BASE, forwarding="tunnel", address="2001:db8::1"),
    "rs-forwarding-bad": server_with(BASE, forwarding="route"),
    "rs-ipv6-in-ipv4": server_with(BASE, address="2001:db8::1"),
    "rs-address-none": server_with(BASE, address=None),
    "rs-address-missing": server_with(BASE, address=DROP),
    "rs-address-not-canonical": server_with(BASE, address="198.19.0.017"),
    "rs-duplicate": server_with(BASE, address=BASE["real_servers"][0]["address"]),
    "rs-thresholds": server_with(BASE, upper_threshold=1000, lower_threshold=800),
    "rs-thresholds-zero": server_with(BASE, upper_threshold=0, lower_threshold=None),
    "rs-thresholds-bad": server_with(BASE, upper_threshold=100, lower_threshold=800),
    "not-a-dict": "198.18.0.6",
    "none": None,
}


@pytest.mark.parametrize("default_state", [None, "present", "absent"])
@pytest.mark.parametrize("name", list(ENTRIES))
def test_odd_entries_validate_the_same(name: str, default_state: Any) -> None:
    """Each odd entry among plain ones (and at index 0), under each top-level state."""
    for services in ([plain(0), ENTRIES[name], plain(1)], [ENTRIES[name]]):
        params = {"services": services, "state": default_state}
        both_ways(lambda fast, params=params: validate_request(params, fast=fast))


@pytest.mark.parametrize("seed", range(5))
def test_generated_requests_validate_the_same(seed: int) -> None:
    """Large mixed requests, including a duplicate service now and then."""
    rng = random.Random(seed)
    services = []
    for i in range(500):
        entry = plain(i, rng.randrange(5))
        if rng.random() < 0.3:
            odd = rng.choice([name for name, value in ENTRIES.items() if isinstance(value, dict)])
            entry = {**ENTRIES[odd], "address": entry["address"]} if "address" in ENTRIES[odd] else ENTRIES[odd]
        services.append(entry)
    both_ways(lambda fast: validate_request({"services": services}, fast=fast))
    good = [plain(i, rng.randrange(5)) for i in range(500)]
    kind, desired = both_ways(lambda fast: validate_request({"services": good}, fast=fast))
    assert kind == "ok" and len(desired) == 500
    good[321] = dict(good[17])
    kind, message, parameter = both_ways(lambda fast: validate_request({"services": good}, fast=fast))
    assert parameter == "services[321]" and "duplicates services[17]" in message


def test_the_common_shapes_take_the_fast_paths() -> None:
    """The comparisons above are not vacuous: plain entries and lines are read by the fast code."""
    assert _plain_service(plain(3), "present", "services[3]") is not None
    assert _plain_service(ENTRIES["udp"], "present", "services[3]") is not None
    assert _plain_service(ENTRIES["rs-port-same"], "present", "services[3]") is not None
    assert _plain_service(ENTRIES["rs-weight-text"], "present", "services[3]") is None
    assert _plain_service(plain(3), "absent", "services[3]") is None
    assert _plain_server(["->", "198.19.0.1:80", "0", "0", "1", "24"], "thresholds") is not None
    assert _plain_server(["->", "198.19.0.1:80", "Masq", "2", "1", "24"], "list") is not None
    assert _plain_server(["->", "[2001:db8::1]:80", "Masq", "2", "1", "24"], "list") is None
