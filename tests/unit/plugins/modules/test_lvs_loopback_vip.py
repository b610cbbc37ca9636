"""lvs_loopback_vip main() against a small fake of `ip` (the real kernel is covered in tests/functional)."""

from __future__ import annotations

import ipaddress
import json
from typing import TYPE_CHECKING, Any

import pytest
from ansible.module_utils import basic
from ansible_collections.lvs.dr.plugins.modules import lvs_loopback_vip

if TYPE_CHECKING:
    from ansible_collections.lvs.dr.tests.unit.plugins.modules.conftest import RunModule


class FakeIp:
    """Just enough of iproute2 + kernel: addresses per device, main-table routes, JSON output."""

    def __init__(self) -> None:
        self.links: dict[str, list[dict[str, Any]]] = {
            "lo": [{"family": "inet", "local": "127.0.0.1", "prefixlen": 8, "scope": "host", "label": "lo"}],
            "eth0": [{"family": "inet", "local": "198.51.100.10", "prefixlen": 24, "scope": "global",
                      "label": "eth0"}],
        }
        self.routes: dict[str, list[dict[str, Any]]] = {"-4": [], "-6": []}
        self.calls: list[list[str]] = []
        self.writes: list[list[str]] = []

    def __call__(self, _module: Any, cmd: list[str], environ_update: dict[str, str] | None = None,
                 check_rc: bool = False, **_kw: Any) -> tuple[int, str, str]:
        assert cmd[0] == "/sbin/ip" and environ_update and environ_update["LANG"] == "C"
        argv = cmd[1:]
        self.calls.append(argv)
        if argv[0] == "-j":
            return self._show(argv[1:])
        self.writes.append(argv)
        family, obj, action = argv[0], argv[1], argv[2]
        if obj == "addr":
            return self._addr(family, action, argv[3:])
        return self._route(family, action, argv[3:])

    def _show(self, argv: list[str]) -> tuple[int, str, str]:
        if argv[0] == "link":
            return 0, json.dumps([{"ifname": name} for name in self.links]), ""
        if argv[0] == "addr":
            data = [{"ifname": name, "addr_info": infos} for name, infos in self.links.items()]
            return 0, json.dumps(data), ""
        return 0, json.dumps(self.routes[argv[0]]), ""

    def _addr(self, family: str, action: str, argv: list[str]) -> tuple[int, str, str]:
        cidr, device = argv[0], argv[2]
        address, prefix = cidr.split("/")
        infos = self.links[device]
        same = [i for i in infos if i["local"] == address and (family == "-6" or i["prefixlen"] == int(prefix))]
        if action == "add":
            if same:
                return 2, "", "Error: ipv4: Address already assigned.\n"
            info = {"family": "inet" if family == "-4" else "inet6", "local": address, "prefixlen": int(prefix),
                    "scope": "global"}
            if family == "-4":
                info["label"] = argv[4] if len(argv) > 4 else device
            infos.append(info)
            return 0, "", ""
        if not same:
            return 2, "", "RTNETLINK answers: Cannot assign requested address\n"
        infos.remove(same[0])
        return 0, "", ""

    def _route(self, family: str, action: str, argv: list[str]) -> tuple[int, str, str]:
        dst, device = argv[0], argv[2]
        route = {"dst": dst, "dev": device, "flags": []}
        if family == "-4":
            route["scope"] = "link"
        else:
            route["metric"] = 1024
        table = self.routes[family]
        if action == "add":
            if route in table:
                return 2, "", "RTNETLINK answers: File exists\n"
            table.append(route)
        else:
            matches = [r for r in table if r["dst"] == dst and r["dev"] == device and r.get("protocol") != "kernel"]
            if not matches:
                return 2, "", "RTNETLINK answers: No such process\n"
            table.remove(matches[0])
        return 0, "", ""

    def state(self) -> str:
        return json.dumps([self.links, self.routes], sort_keys=True)


@pytest.fixture
def fake_ip(monkeypatch: pytest.MonkeyPatch) -> FakeIp:
    fake = FakeIp()

    def run_command(self: basic.AnsibleModule, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
        return fake(self, *args, **kwargs)

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(basic.AnsibleModule, "get_bin_path",
                        lambda self, name, required=False, opt_dirs=None: f"/sbin/{name}")
    monkeypatch.setattr(lvs_loopback_vip, "_promote_secondaries", lambda device: False)
    return fake


def converge(run_module: RunModule, fake: FakeIp, args: dict[str, Any]) -> dict:
    """check+diff, then real run: the prediction must equal the result; then the second run changes nothing."""
    before = fake.state()
    fake.writes.clear()
    predicted = run_module(lvs_loopback_vip, args, check=True, diff=True)
    assert fake.state() == before and not fake.writes, "check mode changed something"
    result = run_module(lvs_loopback_vip, args, diff=True)
    for key in ("changed", "addresses", "routes", "commands", "corrected", "diff"):
        assert predicted[key] == result[key], key
    again = run_module(lvs_loopback_vip, args)
    assert not again["changed"] and again["commands"] == []
    return result


def test_guide_real_server_vip(run_module, fake_ip) -> None:
    result = converge(run_module, fake_ip, {"addresses": "192.0.2.150", "label": "lo:3"})
    assert result["changed"]
    assert result["addresses"] == [{"address": "192.0.2.150", "prefix": 32, "device": "lo", "label": "lo:3",
                                    "family": "ipv4"}]
    assert result["routes"] == ["192.0.2.150 dev lo"]
    assert result["commands"] == ["ip -4 addr add 192.0.2.150/32 dev lo label lo:3",
                                  "ip -4 route add 192.0.2.150 dev lo table main"]
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"] == "192.0.2.150/32 dev lo label lo:3\nroute 192.0.2.150 dev lo\n"


def test_guide_director_vip_no_route(run_module, fake_ip) -> None:
    args = {"addresses": ["192.0.2.150"], "device": "eth0", "prefix": 24, "label": "eth0:8", "route": False}
    result = converge(run_module, fake_ip, args)
    assert result["commands"] == ["ip -4 addr add 192.0.2.150/24 dev eth0 label eth0:8"]
    assert result["routes"] == [] and fake_ip.routes["-4"] == []


def test_ipv6_and_per_address_prefix(run_module, fake_ip) -> None:
    result = converge(run_module, fake_ip, {"addresses": ["2001:DB8::150", "192.0.2.7/32"]})
    assert [a["address"] for a in result["addresses"]] == ["2001:db8::150", "192.0.2.7"]  # option order
    assert {a["prefix"] for a in result["addresses"]} == {32, 128}
    assert "ip -6 route add 2001:db8::150 dev lo table main" in result["commands"]


def test_wrong_prefix_and_label_corrected(run_module, fake_ip) -> None:
    fake_ip.links["lo"].append({"family": "inet", "local": "192.0.2.150", "prefixlen": 24, "scope": "global",
                                "label": "lo:9"})
    result = converge(run_module, fake_ip, {"addresses": "192.0.2.150", "label": "lo:3"})
    assert result["corrected"] == ["192.0.2.150/24 dev lo label lo:9"]
    assert result["commands"][:2] == ["ip -4 addr del 192.0.2.150/24 dev lo",
                                      "ip -4 addr add 192.0.2.150/32 dev lo label lo:3"]
    assert result["diff"]["before"] == "192.0.2.150/24 dev lo label lo:9\n"


def test_absent_removes_only_target(run_module, fake_ip) -> None:
    run_module(lvs_loopback_vip, {"addresses": ["192.0.2.150", "192.0.2.151"]})
    fake_ip.routes["-4"].append({"dst": "192.0.2.150", "dev": "eth0", "flags": []})  # not ours: other device
    result = converge(run_module, fake_ip, {"addresses": "192.0.2.150", "state": "absent"})
    assert result["commands"] == ["ip -4 route del 192.0.2.150 dev lo table main",
                                  "ip -4 addr del 192.0.2.150/32 dev lo"]
    assert result["addresses"] == [] and result["routes"] == []
    assert [r["dst"] + " " + r["dev"] for r in fake_ip.routes["-4"]] == ["192.0.2.151 lo", "192.0.2.150 eth0"]
    assert any(i["local"] == "192.0.2.151" for i in fake_ip.links["lo"])


def test_route_false_leaves_existing_route(run_module, fake_ip) -> None:
    run_module(lvs_loopback_vip, {"addresses": "192.0.2.150"})
    result = run_module(lvs_loopback_vip, {"addresses": "192.0.2.150", "route": False, "state": "absent"})
    assert result["commands"] == ["ip -4 addr del 192.0.2.150/32 dev lo"]
    assert fake_ip.routes["-4"] == [{"dst": "192.0.2.150", "dev": "lo", "flags": [], "scope": "link"}]


def test_refuses_to_drop_secondaries(run_module, fake_ip) -> None:
    fake_ip.links["eth0"].append({"family": "inet", "local": "198.51.100.150", "prefixlen": 24,
                                  "scope": "global", "secondary": True, "label": "eth0:8"})
    before = fake_ip.state()
    result = run_module(lvs_loopback_vip, {"addresses": "198.51.100.10", "device": "eth0", "state": "absent"})
    assert result["failed"] and "198.51.100.150/24" in result["msg"]
    assert fake_ip.state() == before and not fake_ip.writes


def test_warns_about_lo_subnet(run_module, monkeypatch, fake_ip) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    run_module(lvs_loopback_vip, {"addresses": "192.0.2.150", "prefix": 24})
    assert any("192.0.2.0/24 as local" in w for w in warnings)


def test_ip_failure_is_reported_with_rc_and_stderr(run_module, monkeypatch, fake_ip) -> None:
    fake_ip.links["lo"].append({"family": "inet", "local": "192.0.2.1", "prefixlen": 32, "label": "lo"})
    monkeypatch.setattr(lvs_loopback_vip.iproute, "plan_address_ops", lambda *a: [
        lvs_loopback_vip.iproute.Operation("addr_add", ["-4", "addr", "add", "192.0.2.1/32", "dev", "lo"], "x")])
    result = run_module(lvs_loopback_vip, {"addresses": "192.0.2.1", "route": False})
    assert result["failed"] and result["rc"] == 2 and "already assigned" in result["stderr"]


BAD_INPUT = [
    ({"addresses": "192.0.2.300"}, "addresses: '192.0.2.300'"),
    ({"addresses": "vip.example"}, "addresses: 'vip.example'"),
    ({"addresses": "192.0.2.1/33"}, "addresses: '192.0.2.1/33': the prefix length must be between 1 and 32"),
    ({"addresses": "192.0.2.1/x"}, "invalid prefix length 'x'"),
    ({"addresses": "192.0.2.1", "prefix": 0}, "prefix=0"),
    ({"addresses": "2001:db8::1", "prefix": 129}, "prefix=129"),
    ({"addresses": ["192.0.2.1", "2001:db8::1"], "prefix": 24}, "prefix=24 cannot apply to both"),
    ({"addresses": ["192.0.2.1", "192.0.2.1/32"]}, "192.0.2.1 is listed twice"),
    ({"addresses": "192.0.2.1", "label": "lo3"}, "label: 'lo3' must start with 'lo:'"),
    ({"addresses": "192.0.2.1", "label": "eth0:1"}, "label: 'eth0:1' must start with 'lo:'"),
    ({"addresses": "192.0.2.1", "label": "lo:0123456789abc"}, "at most 15"),
    ({"addresses": "192.0.2.1", "label": "lo:a b"}, "may only use"),
    ({"addresses": "2001:db8::1", "label": "lo:3"}, "IPv6 addresses have no labels"),
    ({"addresses": "192.0.2.1", "device": "eth9"}, "device: no such interface: 'eth9'"),
    ({"addresses": "192.0.2.1", "device": "bad/dev"}, "device: 'bad/dev'"),
    ({"addresses": []}, "addresses: at least one address is required"),
    ({"addresses": "192.0.2.1", "state": "gone"}, "state"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_fails_before_touching_anything(run_module, fake_ip, args, message) -> None:
    before = fake_ip.state()
    result = run_module(lvs_loopback_vip, args)
    assert result["failed"], result
    assert message in result["msg"]
    assert fake_ip.state() == before and not fake_ip.writes


def test_build_specs_defaults() -> None:
    specs, errors = lvs_loopback_vip.build_specs(
        {"addresses": ["192.0.2.1", "2001:db8::1/64"], "device": "lo", "prefix": None, "label": None}
    )
    assert errors == []
    assert [(s.address, s.prefix, s.label) for s in specs] == [("192.0.2.1", 32, None), ("2001:db8::1", 64, None)]
    assert ipaddress.ip_address(specs[1].address).version == 6
