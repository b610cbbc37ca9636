"""lvs_loopback_vip on a real kernel (in a network namespace)."""

from __future__ import annotations

VIP = "192.0.2.150"
VIP6 = "2001:db8::150"


def state(netns):
    return netns.addresses("lo"), netns.addresses("eth0"), netns.host_routes("-4"), netns.host_routes("-6")


def test_real_server_vip_guide_step_2_2(netns, converge) -> None:
    initial = state(netns)
    args = {"addresses": VIP, "label": "lo:3"}
    result = converge("lvs_loopback_vip", args, lambda: state(netns))
    assert result["changed"]
    assert (VIP, 32, "lo:3") in netns.addresses("lo")
    assert f"{VIP} dev lo" in netns.host_routes()
    route = next(r for r in netns.ip_json("-4", "route", "show", "table", "main") if r["dst"] == VIP)
    assert route.get("scope") == "link"  # what `ip route add VIP dev lo:3` gives in the guide
    (diff,) = result["diff"]
    assert diff["after"] == f"{VIP}/32 dev lo label lo:3\nroute {VIP} dev lo\n"

    absent = converge("lvs_loopback_vip", dict(args, state="absent"), lambda: state(netns))
    assert absent["commands"] == [f"ip -4 route del {VIP} dev lo table main", f"ip -4 addr del {VIP}/32 dev lo"]
    assert state(netns) == initial


def test_ipv6_vip_with_route(netns, converge) -> None:
    args = {"addresses": [VIP6, "192.0.2.151"]}
    converge("lvs_loopback_vip", args, lambda: state(netns))
    assert (VIP6, 128, None) in netns.addresses("lo")
    assert f"{VIP6} dev lo" in netns.host_routes("-6")
    converge("lvs_loopback_vip", dict(args, state="absent"), lambda: state(netns))
    assert netns.host_routes("-6") == [] and netns.addresses("lo") == []


def test_director_vip_on_nic_guide_step_3_1(netns, converge) -> None:
    args = {"addresses": VIP, "device": "eth0", "prefix": 24, "label": "eth0:8", "route": False}
    routes_before = netns.host_routes()
    result = converge("lvs_loopback_vip", args, lambda: state(netns))
    assert result["commands"] == [f"ip -4 addr add {VIP}/24 dev eth0 label eth0:8"]
    assert (VIP, 24, "eth0:8") in netns.addresses("eth0")
    assert ("198.51.100.10", 24, "eth0") in netns.addresses("eth0")
    assert netns.host_routes() == routes_before


def test_wrong_prefix_and_label_corrected(netns, converge) -> None:
    netns.sh("ip", "addr", "add", f"{VIP}/24", "dev", "lo", "label", "lo:9")
    netns.sh("ip", "addr", "add", "192.0.2.7/32", "dev", "lo")  # a neighbour that must survive
    result = converge("lvs_loopback_vip", {"addresses": VIP, "label": "lo:3"}, lambda: state(netns))
    assert result["corrected"] == [f"{VIP}/24 dev lo label lo:9"]
    assert sorted(netns.addresses("lo")) == [(VIP, 32, "lo:3"), ("192.0.2.7", 32, "lo")]


def test_secondaries_are_not_lost(netns) -> None:
    netns.sh("ip", "addr", "add", "198.51.100.150/24", "dev", "eth0", "label", "eth0:8")
    before = state(netns)
    result = netns.run_module("lvs_loopback_vip", {"addresses": "198.51.100.10", "device": "eth0",
                                                   "state": "absent"})
    assert result.get("failed") and "198.51.100.150/24" in result["msg"]
    assert state(netns) == before


def test_bad_input_changes_nothing(netns) -> None:
    before = state(netns)
    cases = [
        ({"addresses": VIP, "device": "eth7"}, "device: no such interface: 'eth7'"),
        ({"addresses": "192.0.2.999"}, "addresses: '192.0.2.999'"),
        ({"addresses": VIP6, "label": "lo:6"}, "IPv6 addresses have no labels"),
        ({"addresses": VIP, "label": "eth0:1"}, "must start with 'lo:'"),
        ({"addresses": f"{VIP}/40"}, "between 1 and 32"),
    ]
    for args, message in cases:
        result = netns.run_module("lvs_loopback_vip", args)
        assert result.get("failed") and message in result["msg"], (args, result)
    assert state(netns) == before
