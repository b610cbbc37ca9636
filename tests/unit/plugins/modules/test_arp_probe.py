"""arp_probe main(): parameters reach the probe validated, bad input fails before any socket is opened."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import arp
from ansible_collections.lvs.dr.plugins.modules import arp_probe


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake_probe(device: str, target_ip: str, **kwargs: Any) -> dict[str, Any]:
        seen.append({"device": device, "target_ip": target_ip, **kwargs})
        answers = [{"mac": "0a:1b:2c:3d:4e:5f", "ip": target_ip}]
        return {"answered": True, "answers": answers, "device": device, "device_mac": "02:00:00:00:00:01",
                "address": target_ip, "source": kwargs["sender_ip"], "sent": kwargs["count"]}

    def no_socket(_device: str) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(arp, "probe", fake_probe)
    monkeypatch.setattr(arp, "open_socket", no_socket)
    return seen


def test_defaults_are_a_dad_probe(run_module, probes):
    result = run_module(arp_probe, {"address": " 192.0.2.150", "device": "eth0"}, check=True)
    assert probes == [{"device": "eth0", "target_ip": "192.0.2.150", "sender_ip": "0.0.0.0", "count": 3,
                       "timeout": 2.0}]
    assert result["changed"] is False and result["answered"] is True


def test_options_reach_the_probe(run_module, probes):
    run_module(arp_probe, {"address": "192.0.2.128", "device": "ens33", "source": "192.0.2.130", "count": 1,
                           "timeout": 0.5})
    assert probes[0] == {"device": "ens33", "target_ip": "192.0.2.128", "sender_ip": "192.0.2.130", "count": 1,
                         "timeout": 0.5}


BAD_INPUT = [
    ({"address": "2001:db8::150"}, "address", "address: '2001:db8::150' is an IPv6 address"),
    ({"address": "192.0.2.256"}, "address", "address: '192.0.2.256' is not an IPv4 address"),
    ({"device": "eth0:8"}, "device", "device: 'eth0:8' is not a valid interface name"),
    ({"count": 0}, "count", "count: must be an integer between 1 and 1000 (got 0)"),
    ({"timeout": 0}, "timeout", "timeout: must be a number of seconds above 0"),
    ({"source": "fe80::1"}, "source", "source: 'fe80::1' is an IPv6 address"),
]


@pytest.mark.parametrize(("args", "parameter", "message"), BAD_INPUT)
def test_bad_input_fails_naming_the_parameter(run_module, probes, args, parameter, message):
    result = run_module(arp_probe, {"address": "192.0.2.150", "device": "eth0", **args})
    assert result["failed"] and result["parameter"] == parameter
    assert result["msg"].startswith(message), result["msg"]
    assert probes == []


def test_probe_errors_become_module_failures(run_module, monkeypatch, probes):
    def failing(*_args: Any, **_kwargs: Any) -> None:
        raise arp.ArpError("device: no such interface: 'eth7'", "device")

    monkeypatch.setattr(arp, "probe", failing)
    result = run_module(arp_probe, {"address": "192.0.2.150", "device": "eth7"})
    assert result["failed"] and result["msg"] == "device: no such interface: 'eth7'"
