"""Parsers on every ipvsadm fixture (see fixtures/ipvsadm/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    IpvsParseError,
    ServiceKey,
    merge_listings,
    parse_connections,
    parse_listing,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ipvsadm"


def load(name: str) -> str:
    return (FIXTURES / name).read_text()


def full_table():
    return merge_listings(
        parse_listing(load("Ln.txt")),
        thresholds=parse_listing(load("Ln_thresholds.txt"), "thresholds"),
        stats=parse_listing(load("Ln_stats_exact.txt"), "stats"),
        rate=parse_listing(load("Ln_rate_exact.txt"), "rate"),
    )


KEYS = [
    ServiceKey("fwmark", "ipv4", fwmark=3000000000),
    ServiceKey("tcp", "ipv4", "192.168.206.150", 80),
    ServiceKey("tcp", "ipv4", "192.168.206.150", 443),
    ServiceKey("udp", "ipv4", "192.168.206.151", 53),
    ServiceKey("sctp", "ipv4", "192.168.206.152", 3868),
    ServiceKey("tcp", "ipv6", "2001:db8::150", 80),
    ServiceKey("fwmark", "ipv4", fwmark=10),
    ServiceKey("fwmark", "ipv6", fwmark=20),
]


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("Ln.txt", "list"), ("Ln_thresholds.txt", "thresholds"), ("Ln_stats_exact.txt", "stats"),
     ("Ln_stats.txt", "stats"), ("Ln_rate_exact.txt", "rate")],
)
def test_every_listing_has_the_same_keys(name, fmt):
    table = parse_listing(load(name), fmt)
    assert [s.key for s in table.services] == KEYS
    assert table.version == "1.2.1" and table.size == 4096
    assert [len(s.real_servers) for s in table.services] == [0, 2, 2, 1, 1, 2, 2, 1]


def test_list_format_fields():
    svcs = parse_listing(load("Ln.txt")).by_key()
    https = svcs[KEYS[2]]
    assert https.scheduler == "sh" and https.scheduler_flags == ("sh-fallback", "sh-port")
    assert https.persistence_timeout == 300 and https.persistence_netmask == "255.255.255.0"
    assert [(r.address, r.port, r.forwarding, r.weight) for r in https.real_servers] == [
        ("192.168.206.128", 443, "dr", 2), ("192.168.206.129", 443, "dr", 0)]
    dns = svcs[KEYS[3]]
    assert dns.one_packet and dns.real_servers[0].forwarding == "nat" and dns.real_servers[0].port == 5353
    sctp = svcs[KEYS[4]]
    assert sctp.scheduler_flags == ("mh-fallback", "mh-port") and sctp.real_servers[0].forwarding == "tunnel"
    v6 = svcs[KEYS[5]]
    assert v6.persistence_netmask == "64" and v6.real_servers[1].address == "2001:db8::129"
    fw10 = svcs[KEYS[6]]
    assert fw10.real_servers[1].forwarding == "local" and fw10.real_servers[1].config()[0] == "dr"
    assert fw10.persistence_netmask == "255.255.255.255"
    fw20 = svcs[KEYS[7]]
    assert fw20.persistence_engine == "sip" and fw20.persistence_netmask == "128"
    first = svcs[KEYS[1]].real_servers[0]
    assert (first.active_connections, first.inactive_connections) == (3, 12)


def test_thresholds_merged():
    table = full_table().by_key()
    assert [(r.upper_threshold, r.lower_threshold) for r in table[KEYS[2]].real_servers] == [(1000, 800), (0, 0)]
    assert [(r.upper_threshold, r.lower_threshold) for r in table[KEYS[5]].real_servers] == [(0, 0), (200, 100)]


def test_stats_and_rates_merged():
    table = full_table().by_key()
    https = table[KEYS[2]]
    assert https.stats == {"connections": 123456794, "packets_in": 987654371, "packets_out": 0,
                           "bytes_in": 123456792012, "bytes_out": 0}
    assert https.real_servers[0].stats["bytes_in"] == 123456789012
    web = table[KEYS[1]]
    assert web.rate["connections_per_second"] == 3 and web.real_servers[1].rate["bytes_in_per_second"] == 760
    dns = table[KEYS[3]]
    assert dns.real_servers[0].stats == {"connections": 7, "packets_in": 7, "packets_out": 7, "bytes_in": 420,
                                         "bytes_out": 980}


def test_abbreviated_counters():
    https = parse_listing(load("Ln_stats.txt"), "stats").by_key()[KEYS[2]]
    assert https.stats["connections"] == 123456000 and https.stats["bytes_in"] == 123 * 10**9


def test_empty_table():
    table = parse_listing(load("Ln_empty.txt"))
    assert table.services == [] and table.version == "1.2.1"


def test_to_dict_live():
    data = full_table().by_key()[KEYS[6]].to_dict(live=True)
    assert data["fwmark"] == 10 and data["persistence_timeout"] == 360
    assert data["real_servers"][1]["forwarding"] == "local"
    assert data["real_servers"][1]["stats"]["connections"] == 1


def test_connections():
    conns = parse_connections(load("Lnc.txt"))
    assert len(conns) == 8
    assert conns[0] == {
        "protocol": "TCP", "expires": 898, "state": "ESTABLISHED", "source_address": "192.168.206.1",
        "source_port": 51234, "virtual_address": "192.168.206.150", "virtual_port": 80,
        "destination_address": "192.168.206.128", "destination_port": 80,
    }
    assert conns[5]["protocol"] == "SCTP" and conns[5]["expires"] == 7200
    assert conns[6]["source_address"] == "2001:db8::1" and conns[6]["virtual_port"] == 80
    assert conns[7]["protocol"] == "IP" and conns[7]["virtual_address"] == "0.0.0.10"


def test_persistent_conn_columns():
    text = ("IPVS connection entries\npro expire state       source             virtual            destination"
            "        pe name          pe_data\n"
            "UDP 02:00  UDP         10.0.0.1:5060      10.0.0.100:5060    10.0.0.2:5060      sip"
            "              call-1@example\n")
    conn = parse_connections(text)[0]
    assert conn["pe_name"] == "sip" and conn["pe_data"] == "call-1@example"


def test_column_widths_do_not_matter():
    text = "TCP 10.0.0.1:80 rr\n -> 10.0.0.2:80 Route 3 1 2\n"
    svc = parse_listing(text).services[0]
    assert svc.real_servers[0].weight == 3


@pytest.mark.parametrize("text", ["  garbage line\n", "TCP  10.0.0.1:80 rr\n  -> 10.0.0.2:80 Route 1\n"])
def test_parse_errors(text):
    with pytest.raises(IpvsParseError):
        parse_listing(text)


def test_unknown_protocol_block_skipped():
    text = "?    10.0.0.1:80 rr\n  -> 10.0.0.2:80 Route 1 0 0\nTCP  10.0.0.1:81 rr\n"
    assert [s.key.port for s in parse_listing(text).services] == [81]
