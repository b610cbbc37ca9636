"""Planner: desired vs live -> ordered ipvsadm -R lines, in place; save-format rendering."""

from __future__ import annotations

import time
from copy import deepcopy
from dataclasses import replace
from functools import cmp_to_key
from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_netlink as nl
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    ipvsadm_compare_services,
    merge_listings,
    parse_listing,
    parse_save_key,
    render_services,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    IpvsTable,
    RealServer,
    ServiceKey,
    VirtualService,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_plan import (
    diff_texts,
    plan,
    predict_save,
    summarize,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import validate_request

FIXTURES = Path(__file__).parent / "fixtures" / "ipvsadm"
K80 = ServiceKey("tcp", "ipv4", "192.168.206.150", 80)


def copy_service(svc: VirtualService) -> VirtualService:
    """A copy whose real servers can be changed without changing ``svc``'s."""
    return replace(svc, real_servers=[replace(rs) for rs in svc.real_servers])


def live_fixture() -> IpvsTable:
    return merge_listings(
        parse_listing((FIXTURES / "Ln.txt").read_text()),
        thresholds=parse_listing((FIXTURES / "Ln_thresholds.txt").read_text(), "thresholds"),
    )


def live_web(**changes) -> IpvsTable:
    svc = VirtualService(key=K80, scheduler="rr", real_servers=[
        RealServer("192.168.206.128", 80), RealServer("192.168.206.129", 80)])
    for name, value in changes.items():
        setattr(svc, name, value)
    return IpvsTable([svc])


WEB = {"address": "192.168.206.150", "port": 80, "scheduler": "rr",
       "real_servers": [{"address": "192.168.206.128"}, {"address": "192.168.206.129"}]}


def with_(base, **changes):
    data = dict(base)
    data.update(changes)
    return data


CASES = [
    ("noop", WEB, live_web(), []),
    ("add-service", WEB, IpvsTable(), [
        "-A -t 192.168.206.150:80 -s rr",
        "-a -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1",
        "-a -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 1"]),
    ("scheduler-in-place", with_(WEB, scheduler="wrr"), live_web(), ["-E -t 192.168.206.150:80 -s wrr"]),
    ("weight-in-place", with_(WEB, real_servers=[{"address": "192.168.206.128"},
                                                 {"address": "192.168.206.129", "weight": 0}]), live_web(),
     ["-e -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 0"]),
    ("thresholds", with_(WEB, real_servers=[{"address": "192.168.206.128", "upper_threshold": 100,
                                             "lower_threshold": 50}, {"address": "192.168.206.129"}]), live_web(),
     ["-e -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1 -x 100 -y 50"]),
    ("rs-add-edit-remove", with_(WEB, real_servers=[{"address": "192.168.206.128", "weight": 2},
                                                    {"address": "192.168.206.131"}]), live_web(),
     ["-d -t 192.168.206.150:80 -r 192.168.206.129:80",
      "-e -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 2",
      "-a -t 192.168.206.150:80 -r 192.168.206.131:80 -g -w 1"]),
    ("forwarding-change", with_(WEB, real_servers=[{"address": "192.168.206.128", "forwarding": "tunnel"},
                                                   {"address": "192.168.206.129"}]), live_web(),
     ["-e -t 192.168.206.150:80 -r 192.168.206.128:80 -i -w 1"]),
    ("persistence-on", with_(WEB, persistence_timeout=300, persistence_netmask="255.255.255.0"), live_web(),
     ["-E -t 192.168.206.150:80 -s rr -p 300 -M 255.255.255.0"]),
    ("persistence-off", WEB, live_web(persistence_timeout=300), ["-E -t 192.168.206.150:80 -s rr"]),
    ("persistence-timeout", with_(WEB, persistence_timeout=600), live_web(persistence_timeout=300),
     ["-E -t 192.168.206.150:80 -s rr -p 600"]),
    ("persistence-mask", with_(WEB, persistence_timeout=300),
     live_web(persistence_timeout=300, persistence_netmask="255.255.0.0"),
     ["-E -t 192.168.206.150:80 -s rr -p 300"]),
    ("mask-ignored-when-not-persistent", WEB, live_web(persistence_netmask="255.255.0.0"), []),
    ("flags", with_(WEB, scheduler="sh", scheduler_flags=["sh-port"]), live_web(),
     ["-E -t 192.168.206.150:80 -s sh -b sh-port"]),
    ("keeps-ops-and-pe", with_(WEB, scheduler="wlc"), live_web(one_packet=True, persistence_engine="sip"),
     ["-E -t 192.168.206.150:80 -s wlc --pe sip -o"]),
    ("absent", with_(WEB, state="absent"), live_web(), ["-D -t 192.168.206.150:80"]),
    ("absent-missing", with_(WEB, state="absent"), IpvsTable(), []),
    ("local-equals-dr", WEB, live_web(real_servers=[RealServer("192.168.206.128", 80, "local"),
                                                    RealServer("192.168.206.129", 80)]), []),
    ("fwmark-ipv6", {"fwmark": 20, "family": "ipv6", "scheduler": "wlc", "persistence_timeout": 300,
                     "persistence_netmask": "64", "real_servers": [{"address": "2001:db8::128"}]}, IpvsTable(),
     ["-A -f 20 -6 -s wlc -p 300 -M 64", "-a -f 20 -6 -r [2001:db8::128]:0 -g -w 1"]),
    ("ipv6-sctp-nat", {"protocol": "sctp", "address": "2001:db8::150", "port": 3868, "scheduler": "rr",
                       "real_servers": [{"address": "2001:db8::128", "forwarding": "nat", "port": 3869}]},
     IpvsTable(), ["-A --sctp-service [2001:db8::150]:3868 -s rr",
                   "-a --sctp-service [2001:db8::150]:3868 -r [2001:db8::128]:3869 -m -w 1"]),
]


@pytest.mark.parametrize(("params", "live", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(params, live, expected):
    result = plan(validate_request(params), live)
    assert result.commands == expected
    assert result.changed == bool(expected)
    # applying the plan's target to the live table converges: planning again against it is a no-op
    after = IpvsTable([copy_service(s) for s in live.services if s.key not in {t.key for t in result.after}]
                      + result.after)
    after.services = [s for s in after.services if s.key not in result.removed]
    assert plan(validate_request(params), after).commands == []


_SWITCH_COMMAND = {"-A": nl.CMD_NEW_SERVICE, "-E": nl.CMD_SET_SERVICE, "-D": nl.CMD_DEL_SERVICE,
                   "-a": nl.CMD_NEW_DEST, "-e": nl.CMD_SET_DEST, "-d": nl.CMD_DEL_DEST}


@pytest.mark.parametrize(("params", "live", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_line_has_its_operation(params, live, expected):
    """What goes over netlink is what each line says: command, service, and the service or real server as wanted."""
    result = plan(validate_request(params), live)
    assert len(result.operations) == len(result.commands)
    targets = {svc.key: svc for svc in result.after}
    for line, operation in zip(result.commands, result.operations):
        switch = line.split()[0]
        assert operation.command == _SWITCH_COMMAND[switch], line
        assert line.split()[1:3] == operation.key.rule().split()[:2], line
        if switch in ("-A", "-E"):
            assert operation.item is targets[operation.key]
        elif switch == "-D":
            assert operation.item is None
        else:
            rs = operation.item
            assert isinstance(rs, RealServer)
            assert line.split()[line.split().index("-r") + 1].endswith(f":{rs.port}")
            if switch != "-d":
                wanted = targets[operation.key].servers_by_key()[rs.key]
                assert rs.config() == wanted.config(), line


def test_fixture_table_round_trip_is_noop():
    live = live_fixture()
    services = []
    for svc in live.services:
        data = svc.to_dict()
        if svc.key.is_fwmark:
            data.pop("protocol", None)
        else:
            data.pop("family")
        data = {k: v for k, v in data.items() if v not in (None, [])}
        data["real_servers"] = [
            {k: v for k, v in rs.items() if not (k == "port" and svc.key.is_fwmark and v == 0)}
            for rs in data.get("real_servers", [])
        ]
        for rs in data["real_servers"]:
            if rs["forwarding"] == "local":
                rs["forwarding"] = "dr"
        services.append(data)
    assert plan(validate_request({"services": services}), live).commands == []


def test_never_touches_other_services():
    live = live_fixture()
    request = with_(WEB, address="192.0.2.150", scheduler="wrr", port=8080, real_servers=[{"address": "192.0.2.128"}])
    result = plan(validate_request(request), live)
    assert result.commands[0] == "-A -t 192.0.2.150:8080 -s wrr"
    assert all("192.0.2.150:8080" in line for line in result.commands)
    assert not any(line.startswith("-D") for line in result.commands)


def test_plan_modifies_neither_request_nor_live_table():
    request = validate_request(with_(WEB, scheduler="wrr", real_servers=[{"address": "192.168.206.128", "weight": 2}]))
    live = live_web(one_packet=True, persistence_engine="sip")
    snapshot = deepcopy((request, live))
    result = plan(request, live)
    assert result.commands[0] == "-E -t 192.168.206.150:80 -s wrr --pe sip -o"
    assert (request, live) == snapshot
    assert (result.after[0].one_packet, result.after[0].persistence_engine) == (True, "sip")
    assert plan(request, live_web()).after[0] is request[0].service  # nothing to carry over: no copy


@pytest.mark.parametrize(("params", "live", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_outcome_changed_iff_the_service_gets_commands(params, live, expected):
    result = plan(validate_request(params), live)
    assert any(o.changed for o in result.outcomes) == bool(expected)
    assert [o.service.key for o in result.outcomes if o.state == "absent"] == result.removed
    assert [o.service for o in result.outcomes if o.state == "present"] == result.after


def test_outcomes_and_summary():
    live = IpvsTable([
        VirtualService(key=ServiceKey("tcp", "ipv4", "192.0.2.1", port), scheduler="rr", one_packet=port == 81,
                       real_servers=[RealServer("192.0.2.10", port, weight=port)])
        for port in (81, 82, 83)
    ])
    request = validate_request({"services": [
        {"address": "192.0.2.1", "port": 81, "scheduler": "rr",
         "real_servers": [{"address": "192.0.2.10", "weight": 81}]},
        {"address": "192.0.2.1", "port": 82, "scheduler": "rr", "real_servers": [{"address": "192.0.2.10"}]},
        {"address": "192.0.2.1", "port": 83, "state": "absent"},
        {"address": "192.0.2.1", "port": 84, "state": "absent"},
        {"address": "192.0.2.1", "port": 85},
    ]})
    result = plan(request, live)
    assert [(o.service.key.port, o.state, o.changed) for o in result.outcomes] == [
        (81, "present", False), (82, "present", True), (83, "absent", True), (85, "present", True)]
    changed = summarize(result)
    assert [(s["port"], s["state"]) for s in changed] == [(82, "present"), (83, "absent"), (85, "present")]
    assert changed[0]["real_servers"][0]["weight"] == 1  # after: the new weight
    assert changed[1]["real_servers"][0]["weight"] == 83  # removed: as it was
    every = summarize(result, only_changed=False)
    assert [s["port"] for s in every] == [81, 82, 83, 85] and every[1:] == changed
    assert summarize(plan(request[:1], live)) == []


def test_diff_is_save_format_of_managed_services():
    result = plan(validate_request(with_(WEB, scheduler="wrr")), live_web())
    before, after = diff_texts(result)
    assert before == ("-A -t 192.168.206.150:80 -s rr\n"
                      "-a -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1\n"
                      "-a -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 1\n")
    assert after == before.replace("-s rr", "-s wrr")


def test_render_matches_ipvsadm_save_fixture():
    rendered = render_services(live_fixture().services)
    # ipvsadm 1.31 printed marks with %d; the renderer prints them unsigned (fixed upstream after 1.31)
    assert rendered == (FIXTURES / "Sn.txt").read_text().replace("-f -1294967296", "-f 3000000000")


def test_sort_order_matches_libipvs():
    keys = [s.key for s in live_fixture().services]
    shuffled = list(reversed(keys))
    assert sorted(shuffled, key=cmp_to_key(ipvsadm_compare_services)) == keys


def test_parse_save_key():
    assert parse_save_key("-A -f -1294967296 -s rr") == ServiceKey("fwmark", "ipv4", fwmark=3000000000)
    assert parse_save_key("-a -f 20 -6 -r [2001:db8::128]:0 -g -w 1") == ServiceKey("fwmark", "ipv6", fwmark=20)
    assert parse_save_key("-A --sctp-service 10.0.0.1:5 -s rr").protocol == "sctp"
    assert parse_save_key("# comment") is None


def test_predict_save_keeps_foreign_blocks_verbatim():
    saved = (FIXTURES / "Sn.txt").read_text()
    live = live_fixture()
    request = validate_request({"services": [
        with_(WEB, address="192.0.2.150", scheduler="wrr", real_servers=[
            {"address": "192.0.2.128"}, {"address": "192.0.2.129", "weight": 0}]),
        {"address": "192.0.2.151", "port": 53, "protocol": "udp", "state": "absent"},
        {"address": "192.0.2.150", "port": 8080, "real_servers": [{"address": "192.0.2.128"}]},
    ]})
    predicted = predict_save(saved, plan(request, live))
    lines = predicted.splitlines()
    assert lines[0] == "-A -f -1294967296 -s rr"  # foreign block untouched, even its old %d rendering
    assert "-A -t 192.0.2.150:80 -s wrr" in lines
    assert not any("192.0.2.151:53" in line for line in lines)
    new = lines.index("-A -t 192.0.2.150:8080 -s wlc")
    assert lines[new - 1].startswith("-a -t 192.0.2.150:443")  # sorted by port after :443
    assert "-a --sctp-service 192.0.2.152:3868 -r 203.0.113.128:3868 -i -w 1 --tun-type ipip" in lines


def test_predict_save_noop_is_identity():
    saved = (FIXTURES / "Sn.txt").read_text()
    assert predict_save(saved, plan([], live_fixture())) == saved


def test_bulk_1000_services_linear():
    services = [{"address": f"10.{i // 250}.{i % 250}.1", "port": 80, "scheduler": "rr",
                 "real_servers": [{"address": f"10.200.{i % 250}.{j + 1}"} for j in range(4)]} for i in range(1000)]
    request = validate_request({"services": services})
    start = time.perf_counter()
    first = plan(request, IpvsTable())
    assert len(first.commands) == 5000
    live = IpvsTable([copy_service(entry.service) for entry in request])
    services[500]["real_servers"][2]["weight"] = 7
    second = plan(validate_request({"services": services}), live)
    assert second.commands == ["-e -t 10.2.0.1:80 -r 10.200.0.3:80 -g -w 7"]
    assert time.perf_counter() - start < 5
