"""The director role's filters: real servers from a group, firewall ports and probe addresses from services."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.lvs.dr.plugins.filter import director
from ansible_collections.lvs.dr.plugins.filter.director import (
    group_real_servers,
    ipv4_real_servers,
    real_server_weight,
    service_firewall_ports,
)

HOSTVARS: dict[str, dict[str, Any]] = {
    "rs1": {"realserver_rip": "192.0.2.128", "ansible_facts": {"default_ipv4": {"address": "192.0.2.1"}}},
    "rs2": {"ansible_facts": {"default_ipv4": {"address": "192.0.2.129"}}},
    "rs3": {"ansible_facts": {}},
    "rs4": {},
}


def test_group_real_servers_prefer_the_rip_then_the_facts() -> None:
    assert group_real_servers(["rs2", "rs1", "rs3", "rs4"], HOSTVARS, 3) == [
        {"address": "192.0.2.129", "weight": 3},
        {"address": "192.0.2.128", "weight": 3},
        {"address": "", "weight": 3},  # no facts gathered: the role's check names it
        {"address": "", "weight": 3},
    ]
    assert group_real_servers([], HOSTVARS, 1) == []


SERVICES: list[dict[str, Any]] = [
    {"address": "192.0.2.150", "port": 80, "real_servers": [{"address": "192.0.2.128"}, {"address": "192.0.2.129"}]},
    {"protocol": "udp", "address": "192.0.2.150", "port": "53", "state": "present",
     "real_servers": [{"address": "192.0.2.129"}, {"address": "2001:db8::5"}, {"address": "not-an-ip"}]},
    {"fwmark": 7, "real_servers": [{"address": "192.0.2.130"}]},
    {"address": "192.0.2.151", "port": 443, "state": "absent", "real_servers": [{"address": "192.0.2.140"}]},
    {"protocol": None, "address": "2001:db8::150", "port": 0, "state": None, "real_servers": None},
]


def test_service_firewall_ports_are_the_present_address_port_services() -> None:
    assert service_firewall_ports(SERVICES) == [
        {"protocol": "tcp", "address": "192.0.2.150", "port": 80},
        {"protocol": "udp", "address": "192.0.2.150", "port": 53},
        {"protocol": "tcp", "address": "2001:db8::150", "port": 0},
    ]


def test_ipv4_real_servers_once_in_order_of_present_services() -> None:
    assert ipv4_real_servers(SERVICES) == ["192.0.2.128", "192.0.2.129", "192.0.2.130"]


@pytest.mark.parametrize("name", ["group_real_servers", "service_firewall_ports", "ipv4_real_servers"])
def test_filters_are_registered(name: str) -> None:
    assert director.FilterModule().filters()[name].__name__ == name


WEIGHTED = [
    {"address": "192.0.2.10", "port": 80,
     "real_servers": [{"address": "10.0.0.1", "weight": 2}, {"address": "10.0.0.2", "port": 8080}]},
    {"address": "192.0.2.10", "port": 443, "real_servers": [{"address": "10.0.0.1"}]},
    {"address": "192.0.2.11", "port": 80, "state": "absent", "real_servers": [{"address": "10.0.0.1"}]},
    {"address": "2001:db8::10", "port": 80, "real_servers": [{"address": "2001:db8::1"}]},
]


def test_real_server_weight_sets_every_entry_of_the_server_in_present_services() -> None:
    result = real_server_weight(WEIGHTED, "10.0.0.1", 0)
    assert [[server.get("weight") for server in service["real_servers"]] for service in result] == [
        [0, None], [0], [None], [None]]
    assert result[0]["real_servers"][1] == {"address": "10.0.0.2", "port": 8080}  # the others untouched
    assert WEIGHTED[0]["real_servers"][0]["weight"] == 2  # a copy


def test_real_server_weight_none_leaves_it_out_and_compares_addresses_normalised() -> None:
    result = real_server_weight(WEIGHTED, "10.0.0.1", None)
    assert [[server["address"] for server in service["real_servers"]] for service in result] == [
        ["10.0.0.2"], [], ["10.0.0.1"], ["2001:db8::1"]]
    assert real_server_weight(WEIGHTED, "2001:DB8:0::1", 5)[3]["real_servers"] == [
        {"address": "2001:db8::1", "weight": 5}]


@pytest.mark.parametrize(("address", "message"), [
    ("rs9", "drain_host: 'rs9' is neither a host of the inventory nor an IP address. Nothing was changed."),
    ("10.0.0.9", "drain_host: 10.0.0.9 is in no virtual service of the director's inventory"),
])
def test_real_server_weight_bad_address_names_the_variable(address: str, message: str) -> None:
    with pytest.raises(AnsibleFilterError) as failure:
        real_server_weight(WEIGHTED, address, 0)
    assert str(failure.value).startswith(message)
