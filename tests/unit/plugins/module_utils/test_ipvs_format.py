"""Parsers on every ipvsadm fixture (see fixtures/ipvsadm/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    IpvsParseError,
    merge_listings,
    merge_proc,
    parse_connections,
    parse_listing,
    parse_proc_ip_vs,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import ServiceKey

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
    ServiceKey("tcp", "ipv4", "192.0.2.150", 80),
    ServiceKey("tcp", "ipv4", "192.0.2.150", 443),
    ServiceKey("udp", "ipv4", "192.0.2.151", 53),
    ServiceKey("sctp", "ipv4", "192.0.2.152", 3868),
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
        ("192.0.2.128", 443, "dr", 2), ("192.0.2.129", 443, "dr", 0)]
    dns = svcs[KEYS[3]]
    assert dns.one_packet and dns.real_servers[0].forwarding == "nat" and dns.real_servers[0].port == 5353
    sctp = svcs[KEYS[4]]
    assert sctp.scheduler_flags == ("mh-fallback", "mh-port") and sctp.real_servers[0].forwarding == "tunnel"
    v6 = svcs[KEYS[5]]
    assert v6.persistence_netmask == "64" and v6.real_servers[1].address == "2001:db8::129"
    fw10 = svcs[KEYS[6]]
    # 192.0.2.128 is a local address of the recording container: kernel 6.1 still lists it as Route
    assert [(r.address, r.forwarding) for r in fw10.real_servers] == [("192.0.2.128", "dr"), ("198.51.100.128", "dr")]
    assert fw10.persistence_netmask == "255.255.255.255"
    fw20 = svcs[KEYS[7]]
    assert fw20.persistence_engine == "sip" and fw20.persistence_netmask == "128"
    first = svcs[KEYS[1]].real_servers[0]
    assert (first.active_connections, first.inactive_connections) == (1, 24)


def test_local_forwarding_of_older_kernels():
    # kernels before 2.6.37 flagged local real servers with IP_VS_CONN_F_LOCALNODE; ipvsadm prints "Local"
    text = ("FWM  10 lc persistent 360\n"
            "  -> 192.0.2.128:0                Route   1      0          0         \n"
            "  -> 192.0.2.130:0                Local   1      0          1         \n")
    rs = parse_listing(text).services[0].real_servers[1]
    assert rs.forwarding == "local" and rs.config()[0] == "dr" and rs.to_dict()["forwarding"] == "local"


def test_thresholds_merged():
    table = full_table().by_key()
    assert [(r.upper_threshold, r.lower_threshold) for r in table[KEYS[2]].real_servers] == [(1000, 800), (0, 0)]
    assert [(r.upper_threshold, r.lower_threshold) for r in table[KEYS[5]].real_servers] == [(0, 0), (200, 100)]


def test_stats_and_rates_merged():
    table = full_table().by_key()
    https = table[KEYS[2]]
    assert https.stats == {"connections": 2, "packets_in": 1972, "packets_out": 1004,
                           "bytes_in": 117445926, "bytes_out": 52250}
    assert https.real_servers[0].stats["bytes_in"] == 117445926
    assert https.rate["bytes_in_per_second"] == 6405279
    web = table[KEYS[1]]
    assert web.rate["connections_per_second"] == 1 and web.real_servers[0].rate["bytes_in_per_second"] == 11082
    assert web.real_servers[1].rate == dict.fromkeys(web.real_servers[1].rate, 0)
    dns = table[KEYS[3]]
    assert dns.real_servers[0].stats == {"connections": 8, "packets_in": 8, "packets_out": 0, "bytes_in": 272,
                                         "bytes_out": 0}


def test_abbreviated_counters():
    # print_largenum() abbreviates from 10**8 on: 117445926 bytes are printed as 117445K
    https = parse_listing(load("Ln_stats.txt"), "stats").by_key()[KEYS[2]]
    assert https.stats["connections"] == 2 and https.stats["bytes_in"] == 117445 * 10**3
    assert https.stats["bytes_out"] == 52250


def test_empty_table():
    table = parse_listing(load("Ln_empty.txt"))
    assert table.services == [] and table.version == "1.2.1"


def test_to_dict_live():
    data = full_table().by_key()[KEYS[1]].to_dict(live=True)
    assert data["address"] == "192.0.2.150" and data["scheduler"] == "rr"
    assert data["real_servers"][0]["forwarding"] == "dr"
    assert data["real_servers"][0]["stats"]["connections"] == 26
    assert data["real_servers"][0]["active_connections"] == 1
    assert data["stats"]["connections"] == 26


def test_connections():
    conns = parse_connections(load("Lnc.txt"))
    assert len(conns) == 54
    assert conns[1] == {
        "protocol": "TCP", "expires": 885, "state": "ESTABLISHED", "source_address": "192.0.2.150",
        "source_port": 52168, "virtual_address": "192.0.2.150", "virtual_port": 80,
        "destination_address": "192.0.2.128", "destination_port": 80,
    }
    assert conns[0]["source_address"] == "2001:db8::150" and conns[0]["state"] == "TIME_WAIT"
    assert conns[0]["virtual_port"] == 80 and conns[0]["expires"] == 115
    # persistence templates: client network, port 0, state ASSURED on kernel 6.1
    templates = [c for c in conns if c["source_port"] == 0]
    assert [(c["source_address"], c["state"], c["virtual_port"]) for c in templates] == [
        ("192.0.2.0", "ASSURED", 443), ("2001:db8::", "ASSURED", 80)]
    # --persistent-conn adds two header columns; without a persistence engine in use no row has them
    persistent = parse_connections(load("Lnc_persistent_conn.txt"))
    assert not any("pe_name" in c for c in persistent)
    assert {(c["source_address"], c["source_port"]) for c in persistent} >= {
        ("192.0.2.150", 52168), ("192.0.2.0", 0), ("2001:db8::", 0)}


def test_connections_of_other_protocols():
    # derived from print_conn() in ipvsadm.c: SCTP, UDP and fwmark templates (protocol IP, mark as address)
    text = ("IPVS connection entries\npro expire state       source             virtual            destination\n"
            "UDP 04:50  UDP         192.0.2.1:40000 192.0.2.151:53 203.0.113.140:5353\n"
            "SCTP 120:00 ESTABLISHED 192.0.2.1:38000 192.0.2.152:3868 203.0.113.128:3868\n"
            "IP  05:00  NONE        192.0.2.1:0    0.0.0.10:0         192.0.2.128:0\n")
    conns = parse_connections(text)
    assert conns[0]["protocol"] == "UDP" and conns[0]["destination_port"] == 5353
    assert conns[1]["protocol"] == "SCTP" and conns[1]["expires"] == 7200
    assert conns[2]["protocol"] == "IP" and conns[2]["virtual_address"] == "0.0.0.10"


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


def test_titles_and_version_recognised_by_their_words():
    text = ("IP Virtual Server version 1.2.1 (size=4096)\n"
            "Prot LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "\n"
            "TCP  10.0.0.1:80 rr\n"
            "  -> 10.0.0.2:80                  Route   1      0          0\n"
            "   \n"
            "Prot  LocalAddress:Port\n"  # titles are matched by words, not by column positions
            "    ->   RemoteAddress:Port\n"
            "UDP  10.0.0.1:53 wlc\n")
    table = parse_listing(text)
    assert (table.version, table.size) == ("1.2.1", 4096)
    summary = [(s.key.protocol, s.scheduler, len(s.real_servers)) for s in table.services]
    assert summary == [("tcp", "rr", 1), ("udp", "wlc", 0)]
    with pytest.raises(IpvsParseError):  # a word that is neither a title nor a protocol
        parse_listing("Protocol 10.0.0.1:80 rr\n")


# --------------------------------------------------------------------------- /proc/net/ip_vs


def _configs(table) -> dict:
    return {svc.key: (svc.config(), sorted((rs.key, rs.config()) for rs in svc.real_servers))
            for svc in table.services}


def test_proc_ip_vs_with_thresholds_listing_equals_the_two_listings():
    # the file was recorded from the same rules: hex addresses, ports and marks, jiffies, IPv6 written in full,
    # real servers newest first, no family for fwmark 20 (IPv6)
    proc = parse_proc_ip_vs(load("proc_net_ip_vs.txt"))
    assert proc[("tcp", "192.0.2.150", 443)] == {("192.0.2.129", 443): ("dr", 0), ("192.0.2.128", 443): ("dr", 2)}
    assert proc[("tcp", "2001:db8::150", 80)][("2001:db8::128", 80)] == ("dr", 5)
    assert proc[("udp", "192.0.2.151", 53)] == {("203.0.113.140", 5353): ("nat", 1)}
    assert proc[("sctp", "192.0.2.152", 3868)] == {("203.0.113.128", 3868): ("tunnel", 1)}
    assert proc[("fwmark", "ipv6", 20)] == {("2001:db8::128", 0): ("dr", 1)}
    assert ("fwmark", "ipv4", 3000000000) not in proc  # no real servers: nothing to take from it
    merged = parse_listing(load("Ln_thresholds.txt"), "thresholds")
    assert merge_proc(merged, proc)
    expected = merge_listings(parse_listing(load("Ln.txt")),
                              thresholds=parse_listing(load("Ln_thresholds.txt"), "thresholds"))
    assert _configs(merged) == _configs(expected)


@pytest.mark.parametrize(
    "edit",
    [
        lambda text: text.replace("  -> C0000281:0050      Route   0      0          0         \n", ""),  # rs gone
        lambda text: text.replace("C0000281:0050", "C0000282:0050"),  # another rs
        lambda text: text + "TCP  C0000299:0050 rr  \n",  # a service added after the listing
    ],
)
def test_proc_ip_vs_that_disagrees_with_the_listing_is_refused(edit):
    listing = parse_listing(load("Ln_thresholds.txt"), "thresholds")
    assert not merge_proc(listing, parse_proc_ip_vs(edit(load("proc_net_ip_vs.txt"))))


def test_proc_ip_vs_skips_unknown_protocols_and_tells_marks_by_their_servers_family():
    text = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n"
            "AH  C0000296:0000 rr  \n  -> C0000281:0000      Route   1      0          0\n"
            "FWM  00000005 rr \n  -> C0000281:0000      Local   3      0          0\n"
            "FWM  00000005 rr \n  -> [2001:0db8:0000:0000:0000:0000:0000:0001]:0000      Route   1      0          0\n"
            # a tunnel server of the other family first (mixed families): the same key twice, so neither is kept
            "FWM  00000006 rr \n  -> [2001:0db8:0000:0000:0000:0000:0000:0002]:0000      Tunnel   1      0          0\n"
            "FWM  00000006 rr \n  -> [2001:0db8:0000:0000:0000:0000:0000:0003]:0000      Route   1      0          0\n")
    assert parse_proc_ip_vs(text) == {("fwmark", "ipv4", 5): {("192.0.2.129", 0): ("local", 3)},
                                      ("fwmark", "ipv6", 5): {("2001:db8::1", 0): ("dr", 1)}}
