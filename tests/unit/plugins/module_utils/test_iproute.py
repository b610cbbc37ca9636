"""iproute: parsers on `ip -j` output recorded in a network namespace, argv builders, planning."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import iproute
from ansible_collections.lvs.dr.plugins.module_utils.command import CommandError
from ansible_collections.lvs.dr.plugins.module_utils.iproute import AddressEntry, AddressSpec, RouteEntry

# Recorded with iproute2 6.1 in a throwaway netns: lo with 192.0.2.150/32 label lo:3 and
# 2001:db8::150/128 (+ host routes), eth0 (veth) with 198.51.100.10/24 and 198.51.100.150/24 label eth0:8.
FIXTURES = Path(__file__).parent / "fixtures" / "iproute"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_parse_links_recorded() -> None:
    assert iproute.parse_links(fixture("link_show.json")) == ["lo", "eth1", "eth0"]


def test_parse_addresses_recorded() -> None:
    entries = iproute.parse_addresses(fixture("addr_show.json"))
    by_key = {(e.device, e.address, e.prefix): e for e in entries}
    assert by_key[("lo", "192.0.2.150", 32)].label == "lo:3"
    assert by_key[("lo", "127.0.0.1", 8)].label == "lo"
    assert by_key[("lo", "127.0.0.1", 8)].scope == "host"
    v6 = by_key[("lo", "2001:db8::150", 128)]
    assert (v6.family, v6.label) == (6, None)
    vip = by_key[("eth0", "198.51.100.150", 24)]
    assert (vip.label, vip.secondary) == ("eth0:8", True)
    assert by_key[("eth0", "198.51.100.10", 24)].secondary is False
    assert by_key[("eth0", "2001:db8:1::10", 64)].family == 6
    assert vip.describe() == "198.51.100.150/24 dev eth0 label eth0:8"
    assert by_key[("lo", "127.0.0.1", 8)].describe() == "127.0.0.1/8 dev lo"


def test_parse_routes_recorded() -> None:
    v4 = iproute.parse_routes(fixture("route4_show.json"), 4)
    assert v4[0] == RouteEntry(4, "192.0.2.150", "lo", None, "link", None)
    assert v4[1].dst == "198.51.100.0/24" and v4[1].protocol == "kernel"
    v6 = iproute.parse_routes(fixture("route6_show.json"), 6)
    # The kernel's own host route of a /128 on lo and the one `ip route add` made (metric 1024).
    assert [(r.dst, r.protocol, r.metric) for r in v6[:2]] == [("2001:db8::150", "kernel", 256),
                                                               ("2001:db8::150", None, 1024)]


def test_host_routes_ignore_kernel_routes_and_other_devices() -> None:
    v6 = iproute.parse_routes(fixture("route6_show.json"), 6)
    assert [r.metric for r in iproute.host_routes(v6, "2001:DB8::150", "lo")] == [1024]
    assert iproute.host_routes(v6, "2001:db8::150", "eth0") == []
    v4 = iproute.parse_routes(fixture("route4_show.json"), 4)
    assert len(iproute.host_routes(v4, "192.0.2.150", "lo")) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", []),
        ("[]", []),
        ('[{"dst":"192.0.2.7/32","dev":"lo"}]', [RouteEntry(4, "192.0.2.7", "lo")]),
        ('[{"dst":"default","dev":"eth0","gateway":"192.0.2.1"}]', [RouteEntry(4, "default", "eth0")]),
        ('[{"type":"unicast","flags":[]}]', []),
    ],
)
def test_parse_routes_table(text: str, expected: list[RouteEntry]) -> None:
    assert iproute.parse_routes(text, 4) == expected


@pytest.mark.parametrize("text", ["{not json", '{"a": 1}'])
def test_parse_rejects_garbage(text: str) -> None:
    with pytest.raises(CommandError):
        iproute.parse_addresses(text)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: iproute.addr_add_argv("192.0.2.150", 32, "lo", "lo:3"),
         ["-4", "addr", "add", "192.0.2.150/32", "dev", "lo", "label", "lo:3"]),
        (lambda: iproute.addr_add_argv("2001:db8::1", 128, "lo", "lo:3"),
         ["-6", "addr", "add", "2001:db8::1/128", "dev", "lo"]),
        (lambda: iproute.addr_del_argv("192.0.2.150", 24, "ens33"),
         ["-4", "addr", "del", "192.0.2.150/24", "dev", "ens33"]),
        (lambda: iproute.route_add_argv("192.0.2.150", "lo"),
         ["-4", "route", "add", "192.0.2.150", "dev", "lo", "table", "main"]),
        (lambda: iproute.route_del_argv(RouteEntry(6, "2001:db8::1", "lo", metric=1024)),
         ["-6", "route", "del", "2001:db8::1", "dev", "lo", "table", "main", "metric", "1024"]),
    ],
)
def test_argv_builders(call, expected: list[str]) -> None:
    assert call() == expected


@pytest.mark.parametrize(
    ("label", "device", "ok"),
    [
        ("lo:3", "lo", True),
        ("ens33:8", "ens33", True),
        ("lo:vip_1", "lo", True),
        ("lo3", "lo", False),
        ("lo:", "lo", False),
        ("eth0:1", "lo", False),
        ("ens33:123456789", "ens33", True),  # 15 characters: the limit
        ("ens33:1234567890", "ens33", False),  # 16
        ("lo:a b", "lo", False),
        ("lo:a/b", "lo", False),
        ("lo:a:b", "lo", False),
    ],
)
def test_validate_label(label: str, device: str, ok: bool) -> None:
    error = iproute.validate_label(label, device)
    assert (error is None) is ok
    if not ok:
        assert label in error


@pytest.mark.parametrize(
    ("name", "ok"),
    [("lo", True), ("eth0.100", True), ("a" * 15, True), ("a" * 16, False), ("", False), ("e/0", False),
     ("lo:3", False), ("a b", False), ("..", False)],
)
def test_validate_ifname(name: str, ok: bool) -> None:
    assert (iproute.validate_ifname(name) is None) is ok


LO = [
    AddressEntry("lo", 4, "127.0.0.1", 8, "lo", "host"),
]


def v4(address: str, prefix: int, device: str = "lo", label: str | None = None,
       secondary: bool = False) -> AddressEntry:
    return AddressEntry(device, 4, address, prefix, label or device, "global", secondary)


@pytest.mark.parametrize(
    ("current", "spec", "present", "kinds"),
    [
        pytest.param(LO, AddressSpec("192.0.2.150", 32, "lo", "lo:3"), True, ["addr_add"], id="add"),
        pytest.param([*LO, v4("192.0.2.150", 32, label="lo:3")], AddressSpec("192.0.2.150", 32, "lo", "lo:3"),
                     True, [], id="idempotent"),
        pytest.param([*LO, v4("192.0.2.150", 24, label="lo:3")], AddressSpec("192.0.2.150", 32, "lo", "lo:3"),
                     True, ["addr_del", "addr_add"], id="wrong-prefix"),
        pytest.param([*LO, v4("192.0.2.150", 32)], AddressSpec("192.0.2.150", 32, "lo", "lo:3"),
                     True, ["addr_del", "addr_add"], id="missing-label"),
        pytest.param([*LO, v4("192.0.2.150", 32, label="lo:3")], AddressSpec("192.0.2.150", 32, "lo"),
                     True, ["addr_del", "addr_add"], id="label-to-remove"),
        pytest.param([*LO, v4("192.0.2.150", 32), v4("192.0.2.150", 24)], AddressSpec("192.0.2.150", 32, "lo"),
                     True, ["addr_del"], id="duplicate-with-other-prefix"),
        pytest.param([*LO, v4("192.0.2.150", 32, device="eth0")], AddressSpec("192.0.2.150", 32, "lo"),
                     True, ["addr_add"], id="other-device-untouched"),
        pytest.param([*LO, AddressEntry("lo", 6, "2001:db8::1", 64)], AddressSpec("2001:db8::1", 128, "lo"),
                     True, ["addr_del", "addr_add"], id="ipv6-prefix"),
        pytest.param([*LO, AddressEntry("lo", 6, "2001:db8::1", 128)], AddressSpec("2001:db8::1", 128, "lo"),
                     True, [], id="ipv6-idempotent"),
        pytest.param([*LO, v4("192.0.2.150", 24, label="lo:3")], AddressSpec("192.0.2.150", 32, "lo"),
                     False, ["addr_del"], id="absent-any-prefix"),
        pytest.param(LO, AddressSpec("192.0.2.150", 32, "lo"), False, [], id="absent-idempotent"),
    ],
)
def test_plan_address_ops(current: list[AddressEntry], spec: AddressSpec, present: bool, kinds: list[str]) -> None:
    ops = iproute.plan_address_ops([spec], current, present)
    assert [op.kind for op in ops] == kinds
    after = iproute.simulate_addresses(current, ops)
    # Replanning on the predicted state is a no-op: the plan converges in one run.
    assert iproute.plan_address_ops([spec], after, present) == []
    mine = iproute.entries_for(after, spec.address, spec.device)
    if present:
        assert [(e.prefix, e.label) for e in mine] == [(spec.prefix, spec.wanted_label)]
    else:
        assert mine == []
    assert [e for e in after if e.device != spec.device] == [e for e in current if e.device != spec.device]


def test_plan_route_ops() -> None:
    spec = AddressSpec("2001:db8::150", 128, "lo")
    routes = iproute.parse_routes(fixture("route6_show.json"), 6)
    assert iproute.plan_route_ops([spec], routes, True) == []
    ops = iproute.plan_route_ops([spec], routes, False)
    assert [op.command() for op in ops] == ["ip -6 route del 2001:db8::150 dev lo table main metric 1024"]
    after = iproute.simulate_routes(routes, ops)
    assert iproute.host_routes(after, "2001:db8::150", "lo") == []
    assert any(r.protocol == "kernel" and r.dst == "2001:db8::150" for r in after)
    add = iproute.plan_route_ops([AddressSpec("192.0.2.9", 32, "lo")], [], True)
    assert [op.command() for op in add] == ["ip -4 route add 192.0.2.9 dev lo table main"]


def test_secondaries_lost() -> None:
    current = [v4("198.51.100.10", 24, "eth0"), v4("198.51.100.150", 24, "eth0", "eth0:8", secondary=True),
               v4("203.0.113.1", 24, "eth0", secondary=True)]
    ops = iproute.plan_address_ops([AddressSpec("198.51.100.10", 32, "eth0")], current, True)
    assert iproute.secondaries_lost(ops, current) == {"198.51.100.10/24 dev eth0": ["198.51.100.150/24"]}
    # Deleting a secondary loses nothing.
    ops = iproute.plan_address_ops([AddressSpec("198.51.100.150", 24, "eth0")], current, False)
    assert iproute.secondaries_lost(ops, current) == {}
    # When the plan deletes the secondaries too, nothing is lost either.
    ops = iproute.plan_address_ops(
        [AddressSpec("198.51.100.150", 24, "eth0"), AddressSpec("198.51.100.10", 24, "eth0")], current, False
    )
    assert iproute.secondaries_lost(ops, current) == {}


class FakeModule:
    def __init__(self, rc: int = 0, stdout: str = "", stderr: str = "") -> None:
        self.calls: list[tuple[list[str], dict[str, str]]] = []
        self.result = (rc, stdout, stderr)

    def get_bin_path(self, name: str, required: bool = False, opt_dirs: list[str] | None = None) -> str:
        assert not required and opt_dirs and "/usr/sbin" in opt_dirs  # the runner raises CommandNotFound itself
        return f"/usr/sbin/{name}"

    def run_command(self, cmd: list[str], environ_update: dict[str, str], check_rc: bool) -> tuple[int, str, str]:
        self.calls.append((cmd, environ_update))
        return self.result


def test_run_ip_uses_argv_and_lang_c() -> None:
    module = FakeModule(stdout=fixture("link_show.json"))
    assert iproute.list_interfaces(iproute.ip_runner(module)) == ["lo", "eth1", "eth0"]
    cmd, env = module.calls[0]
    assert cmd == ["/usr/sbin/ip", "-j", "link", "show"]
    assert env["LANG"] == "C" and env["LC_ALL"] == "C"


def test_run_ip_failure_keeps_rc_and_stderr() -> None:
    module = FakeModule(rc=2, stderr="Error: ipv4: Address already assigned.\n")
    with pytest.raises(CommandError) as info:
        iproute.run_ip(iproute.ip_runner(module), iproute.addr_add_argv("192.0.2.1", 32, "lo"))
    kwargs = info.value.fail_kwargs()
    assert kwargs["rc"] == 2 and "already assigned" in kwargs["stderr"]
    assert kwargs["cmd"] == ["/usr/sbin/ip", "-4", "addr", "add", "192.0.2.1/32", "dev", "lo"]


def test_plan_vip_orders_routes_around_addresses_and_names_corrections() -> None:
    spec = AddressSpec("192.0.2.150", 32, "lo", "lo:3")
    wrong = AddressEntry("lo", 4, "192.0.2.150", 24, "lo:9", "global")
    present = iproute.plan_vip([spec], [*LO, wrong], [], present=True, manage_route=True)
    assert [op.kind for op in present.ops] == ["addr_del", "addr_add", "route_add"]
    assert present.corrected == ["192.0.2.150/24 dev lo label lo:9"]
    route = RouteEntry(4, "192.0.2.150", "lo")
    absent = iproute.plan_vip([spec], [*LO, wrong], [route], present=False, manage_route=True)
    assert [op.kind for op in absent.ops] == ["route_del", "addr_del"] and absent.corrected == []
    unrouted = iproute.plan_vip([spec], [*LO], [route], present=False, manage_route=False)
    assert unrouted.ops == [] and unrouted.route_ops == []
