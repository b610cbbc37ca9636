"""keepalived.conf data: the merged health checks, the virtual servers, the VRRP instance, and every error named."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.filter.keepalived import FilterModule
from ansible_collections.lvs.dr.plugins.module_utils.keepalived import (
    build_config,
    checked_out,
    configured_real_servers,
    health_check,
    vrrp_members,
)

VIP = "192.0.2.150"
RS = [{"address": "192.0.2.128"}, {"address": "192.0.2.129", "weight": 3}]


def _options(**changes: Any) -> dict[str, Any]:
    vrrp = {"host": "d1", "members": [], "priority": 100, "router_id": 51, "advert_int": 1, "nopreempt": False,
            "source": "192.0.2.130", "sync_daemon": False}
    vrrp.update(changes.pop("vrrp", {}))
    return {"variable": "director_services", "health_check": {}, "inhibit_on_failure": False, "sorry_server": {},
            "firewall_marks": [], "vrrp": vrrp, **changes}


def _service(**changes: Any) -> dict[str, Any]:
    return {"address": VIP, "port": 80, "scheduler": "rr", "real_servers": RS, **changes}


def test_filters_are_registered() -> None:
    assert set(FilterModule().filters()) == {"keepalived_config", "keepalived_vrrp_members", "keepalived_checked_out"}


def test_default_service_is_tcp_check_dr() -> None:
    config = build_config([_service()], _options())
    assert config["errors"] == []
    (vs,) = config["virtual_servers"]
    assert vs["name"] == "director_services[0]"
    assert (vs["address"], vs["port"], vs["protocol"], vs["scheduler"], vs["fwmark"]) == (VIP, 80, "TCP", "rr", None)
    assert vs["check"] == {"type": "TCP_CHECK", "connect_timeout": 3, "retry": 3, "delay_before_retry": 2,
                           "delay_loop": 6}
    assert [(rs["address"], rs["port"], rs["weight"]) for rs in vs["real_servers"]] == [
        ("192.0.2.128", 80, 1), ("192.0.2.129", 80, 3)]
    assert vs["persistence_timeout"] is None and vs["persistence_granularity"] == ""
    assert vs["sorry_server"] is None and vs["inhibit_on_failure"] is False
    assert config["ipvsadm_services_absent"] == [{"address": VIP, "port": 80, "state": "absent"}]


def test_service_overrides_the_role_defaults() -> None:
    service = _service(persistence_timeout=300, persistence_netmask="255.255.255.0", inhibit_on_failure=True,
                       sorry_server="192.0.2.140",
                       health_check={"type": "HTTP_GET", "path": "/health", "status_code": "204", "retry": 1})
    config = build_config([service], _options(health_check={"delay_loop": 2}))
    assert config["errors"] == []
    (vs,) = config["virtual_servers"]
    assert vs["check"] == {"type": "HTTP_GET", "path": "/health", "status_code": 204, "connect_timeout": 3,
                           "retry": 1, "delay_before_retry": 2, "delay_loop": 2}
    assert (vs["persistence_timeout"], vs["persistence_granularity"]) == (300, "255.255.255.0")
    assert vs["sorry_server"] == {"address": "192.0.2.140", "port": 80}
    assert vs["inhibit_on_failure"] is True


def test_absent_services_are_left_out_and_fwmark_needs_a_known_mark_and_a_port() -> None:
    services = [_service(state="absent"), {"fwmark": 7, "real_servers": [{"address": "192.0.2.128", "port": 443}]}]
    config = build_config(services, _options(firewall_marks=[7]))
    assert config["errors"] == []
    (vs,) = config["virtual_servers"]
    assert (vs["fwmark"], vs["name"], vs["real_servers"][0]["port"]) == (7, "director_services[1]", 443)
    errors = build_config([{"fwmark": 8, "real_servers": [{"address": "192.0.2.128"}]}], _options())["errors"]
    assert errors == [
        "director_services[0].fwmark: mark 8 is not one the firewall sets (director_firewall_marks: []); "
        "keepalived would balance nothing",
        "director_services[0].real_servers[0].port: a firewall-mark service's real servers need a port in keepalived "
        "mode (the health check connects to it), or set director_health_check.connect_port"]


@pytest.mark.parametrize(("check", "error"), [
    ({"type": "PING"}, "director_health_check.type: unknown health check type 'PING'; "
                       "expected one of HTTP_GET, SSL_GET, TCP_CHECK"),
    ({"type": "HTTP_GET", "path": "health"}, "director_health_check.path: an HTTP path starts with '/' and has no "
                                             "spaces (got 'health')"),
    ({"type": "HTTP_GET", "status_code": 700}, "director_health_check.status_code: must be between 100 and 599 "
                                               "(got 700)"),
    ({"connect_timeout": 0}, "director_health_check.connect_timeout: must be between 1 and 3600 (got 0)"),
    ({"retries": 3}, "director_health_check: unknown option(s) retries; known: type, path"),
    ({"delay_loop": True}, "director_health_check.delay_loop: must be an integer"),
])
def test_bad_health_checks_name_the_variable_and_value(check: dict[str, Any], error: str) -> None:
    errors: list[str] = []
    health_check(check, None, "director_health_check", errors)
    assert len(errors) == 1 and errors[0].startswith(error), errors


def test_sorry_server_that_is_a_real_server_fails() -> None:
    errors = build_config([_service(sorry_server={"address": "192.0.2.129"})], _options())["errors"]
    assert errors == ["director_services[0].sorry_server: 192.0.2.129 port 80 is also a real server of the service; "
                      "keepalived would use it for both (keepalived -t fails)"]


def test_service_errors_name_the_role_variable() -> None:
    errors = build_config([_service(real_servers=[{"address": "192.0.2.128", "weight": -1}])], _options())["errors"]
    assert errors == ["director_services[0].real_servers[0].weight: must be between 0 and 65535 (got -1)"]
    single = build_config([_service(address="not-an-ip")], _options(variable="director_real_servers"))["errors"]
    assert len(single) == 1 and single[0].startswith("director_vip: ")
    errors = build_config([_service(real_servers=[{"address": "192.0.2.128", "forwarding": "nat"}])],
                          _options())["errors"]
    assert errors == ["director_services[0].real_servers[0].forwarding: keepalived mode declares direct routing "
                      "only (lvs_method DR; got 'nat')"]


def test_single_director_is_master_without_peers() -> None:
    vrrp = build_config([_service()], _options())["vrrp"]
    assert vrrp == {"name": "VI_LVS_DR", "state": "MASTER", "priority": 100, "router_id": 51, "advert_int": 1,
                    "nopreempt": False, "source": "192.0.2.130", "peers": [], "sync_daemon": False}


HOSTVARS: dict[str, Any] = {
    "d1": {"director_vrrp_priority": 150, "director_interface": "eth1",
           "ansible_facts": {"default_ipv4": {"address": "10.0.0.1", "interface": "eth0"},
                             "eth1": {"ipv4": {"address": "192.0.2.130"}}}},
    "d2": {"ansible_facts": {"default_ipv4": {"address": "192.0.2.131", "interface": "eth0"}}},
    "d3": {"director_vrrp_address": "192.0.2.132", "director_vrrp_priority": "90"},
}


def test_vrrp_members_take_priority_and_address_from_the_inventory() -> None:
    assert vrrp_members(["d1", "d2", "d3"], HOSTVARS) == [
        {"host": "d1", "address": "192.0.2.130", "priority": 150},
        {"host": "d2", "address": "192.0.2.131", "priority": 100},
        {"host": "d3", "address": "192.0.2.132", "priority": "90"}]


def test_pair_peers_priorities_and_states() -> None:
    members = vrrp_members(["d1", "d2"], HOSTVARS)
    first = build_config([_service()], _options(vrrp={"members": members, "priority": 150}))
    second = build_config([_service()], _options(vrrp={"host": "d2", "members": members, "source": "192.0.2.131"}))
    assert first["errors"] == second["errors"] == []
    assert (first["vrrp"]["state"], first["vrrp"]["peers"]) == ("MASTER", ["192.0.2.131"])
    assert (second["vrrp"]["state"], second["vrrp"]["peers"]) == ("BACKUP", ["192.0.2.130"])
    nopreempt = build_config([_service()], _options(vrrp={"members": members, "priority": 150, "nopreempt": True}))
    assert nopreempt["vrrp"]["state"] == "BACKUP"


@pytest.mark.parametrize(("vrrp", "error"), [
    ({"router_id": 0}, "director_vrrp_router_id: must be between 1 and 255 (got 0)"),
    ({"router_id": "256"}, "director_vrrp_router_id: must be between 1 and 255 (got '256')"),
    ({"advert_int": 0}, "director_vrrp_advert_int: seconds between adverts, above 0 and at most 255 (got 0)"),
    ({"priority": 255}, "director_vrrp_priority: must be between 1 and 254 (got 255)"),
    ({"members": [{"host": "d1", "address": "192.0.2.130", "priority": 100},
                  {"host": "d2", "address": "192.0.2.131", "priority": 100}]},
     "director_vrrp_priority: d1 and d2 both have priority 100; give each director of the group its own"),
    ({"members": [{"host": "d1", "address": "192.0.2.130", "priority": 100},
                  {"host": "d2", "address": "", "priority": 90}]},
     "director_vrrp_address of d2: no address for the VRRP peer"),
    ({"members": [{"host": "d2", "address": "192.0.2.131", "priority": 90}]},
     "director_vrrp_group: this director (d1) is not a host of the group; its hosts are d2"),
])
def test_bad_vrrp_settings_name_the_variable_and_value(vrrp: dict[str, Any], error: str) -> None:
    errors = build_config([_service()], _options(vrrp=vrrp))["errors"]
    assert len(errors) == 1 and errors[0].startswith(error), errors


CONF = """
global_defs {
    router_id d1
}
virtual_server 192.0.2.150 80 {
    delay_loop 6
    lvs_sched rr
    protocol TCP
    real_server 192.0.2.128 80 {
        weight 1
        inhibit_on_failure
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 192.0.2.129 80 {
        weight 3
    }
    real_server 192.0.2.140 80 {
        # a spare the operator keeps at weight 0
        weight 0
    }
}
virtual_server fwmark 7 {
    real_server 192.0.2.128 {
        weight 2
        TCP_CHECK {
            connect_port 443
        }
    }
}
"""


def _listed(*servers: tuple[str, int, int], **key: Any) -> dict[str, Any]:
    key = key or {"protocol": "tcp", "address": VIP, "port": 80}
    return {**key, "real_servers": [{"address": a, "port": p, "weight": w} for a, p, w in servers]}


def test_configured_real_servers_are_read_from_keepalived_conf() -> None:
    assert configured_real_servers(CONF) == [
        {"service": {"protocol": "tcp", "address": VIP, "port": 80}, "address": "192.0.2.128", "port": 80, "weight": 1},
        {"service": {"protocol": "tcp", "address": VIP, "port": 80}, "address": "192.0.2.129", "port": 80, "weight": 3},
        {"service": {"protocol": "tcp", "address": VIP, "port": 80}, "address": "192.0.2.140", "port": 80, "weight": 0},
        {"service": {"fwmark": 7}, "address": "192.0.2.128", "port": None, "weight": 2},
    ]


def test_nothing_is_out_when_the_table_has_every_configured_server() -> None:
    table = [_listed(("192.0.2.128", 80, 1), ("192.0.2.129", 80, 3)), _listed(("192.0.2.128", 443, 2), fwmark=7)]
    assert checked_out(CONF, table) == []


def test_a_missing_server_and_a_weight_0_server_are_out_with_their_reason() -> None:
    table = [_listed(("192.0.2.128", 80, 0)), _listed(fwmark=7)]
    out = [(entry["address"], entry["port"], entry["reason"]) for entry in checked_out(CONF, table)]
    assert out == [("192.0.2.128", 80, "weight 0 (inhibit_on_failure)"), ("192.0.2.129", 80, "not in the table"),
                   ("192.0.2.128", None, "not in the table")]


def test_a_missing_service_takes_out_all_of_its_servers() -> None:
    out = checked_out(CONF, [_listed(("192.0.2.128", 443, 2), fwmark=7)])
    assert [(entry["address"], entry["reason"]) for entry in out] == [("192.0.2.128", "service not in the table"),
                                                                      ("192.0.2.129", "service not in the table")]
