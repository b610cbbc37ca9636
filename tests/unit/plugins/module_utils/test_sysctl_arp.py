"""sysctl_arp: values, effective values, file rendering and parsing, on a fake /proc/sys tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import sysctl_arp as sa
from ansible_collections.lvs.dr.plugins.module_utils.files import read_file
from ansible_collections.lvs.dr.tests.unit.sysctl_file import parse_sysctl_file

# Test helper (the module does not need this check: its argument spec has the choices).


def validate_value(key: str, value: int) -> str | None:
    """Error message for a value outside ``sa.VALID_VALUES[key]``, None when valid."""
    allowed = sa.VALID_VALUES[key]
    if value not in allowed:
        return f"{key}={value} is invalid: allowed values are {', '.join(str(v) for v in allowed)}"
    return None


def make_conf_root(tmp_path: Path, scopes: dict[str, dict[str, int]]) -> str:
    root = tmp_path / "conf"
    for scope, keys in scopes.items():
        (root / scope).mkdir(parents=True)
        for key in ("arp_ignore", "arp_announce", "rp_filter"):
            (root / scope / key).write_text(f"{keys.get(key, 0)}\n")
    return str(root)


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [("arp_ignore", v, v in (0, 1, 2, 3, 8)) for v in range(-1, 10)]
    + [("arp_announce", v, v in (0, 1, 2)) for v in range(-1, 4)]
    + [("rp_filter", v, v in (0, 1, 2)) for v in range(-1, 4)],
)
def test_validate_value(key: str, value: int, ok: bool) -> None:
    error = validate_value(key, value)
    assert (error is None) is ok
    if not ok:
        assert f"{key}={value}" in error


@pytest.mark.parametrize(
    ("name", "ok"),
    [("eth0", True), ("eth0.100", True), ("lo", True), ("all", False), ("default", False), ("a/b", False),
     ("lo:3", False), ("x" * 16, False), ("", False)],
)
def test_validate_interface_name(name: str, ok: bool) -> None:
    assert (sa.validate_interface_name(name) is None) is ok


@pytest.mark.parametrize(
    ("values", "interfaces", "expected"),
    [
        pytest.param({"all": {"arp_ignore": 0}, "lo": {"arp_ignore": 1}}, ["lo"], {"lo": {"arp_ignore": 1}},
                     id="interface-higher"),
        pytest.param({"all": {"arp_ignore": 1, "arp_announce": 2}, "eth0": {"arp_ignore": 0, "arp_announce": 0}},
                     ["eth0"], {"eth0": {"arp_ignore": 1, "arp_announce": 2}}, id="all-wins"),
        pytest.param({"all": {"rp_filter": 2}, "eth0": {"rp_filter": 1}}, ["eth0"], {"eth0": {"rp_filter": 2}},
                     id="rp_filter-max"),
        pytest.param({"all": {"arp_ignore": 1}, "eth0": {"arp_ignore": 8}}, ["eth0"], {"eth0": {"arp_ignore": 8}},
                     id="arp_ignore-8"),
    ],
)
def test_effective_values(values: sa.Values, interfaces: list[str], expected: sa.Values) -> None:
    assert sa.effective_values(values, interfaces) == expected


def test_read_write_and_changes(tmp_path: Path) -> None:
    root = make_conf_root(tmp_path, {"all": {}, "default": {}, "eth0": {"arp_ignore": 1}})
    assert sa.list_conf_scopes(root) == ["all", "default", "eth0"]
    current = sa.read_values(["all", "eth0"], ["arp_ignore", "arp_announce"], root)
    assert current == {"all": {"arp_ignore": 0, "arp_announce": 0}, "eth0": {"arp_ignore": 1, "arp_announce": 0}}
    desired = sa.desired_values(["all", "eth0"], {"arp_ignore": 1, "arp_announce": 2, "rp_filter": None})
    changes = sa.value_changes(current, desired)
    assert changes == [("all", "arp_ignore", 0, 1), ("all", "arp_announce", 0, 2), ("eth0", "arp_announce", 0, 2)]
    predicted = sa.apply_changes(current, changes)
    for scope, key, _old, new in changes:
        sa.write_value(scope, key, new, root)
    assert sa.read_values(["all", "eth0"], ["arp_ignore", "arp_announce"], root) == predicted == desired
    assert sa.value_changes(predicted, desired) == []


def test_list_conf_scopes_missing_root(tmp_path: Path) -> None:
    assert sa.list_conf_scopes(str(tmp_path / "nope")) == []


def test_render_matches_guide_and_parses_back() -> None:
    values = sa.desired_values(["all", "ens33"], {"arp_ignore": 1, "arp_announce": 2, "rp_filter": None})
    text = sa.render_sysctl_file(values)
    body = [line for line in text.splitlines() if not line.startswith("#")]
    assert body == [
        "net.ipv4.conf.all.arp_ignore = 1",
        "net.ipv4.conf.all.arp_announce = 2",
        "net.ipv4.conf.ens33.arp_ignore = 1",
        "net.ipv4.conf.ens33.arp_announce = 2",
    ]
    assert parse_sysctl_file(text) == {
        "net.ipv4.conf.all.arp_ignore": "1",
        "net.ipv4.conf.all.arp_announce": "2",
        "net.ipv4.conf.ens33.arp_ignore": "1",
        "net.ipv4.conf.ens33.arp_announce": "2",
    }


def test_render_vlan_interface_uses_slash() -> None:
    text = sa.render_sysctl_file({"eth0.100": {"rp_filter": 2}})
    assert "net.ipv4.conf.eth0/100.rp_filter = 2\n" in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("net.ipv4.conf.all.arp_ignore=1\n", {"net.ipv4.conf.all.arp_ignore": "1"}),
        ("  net.ipv4.conf.all.arp_ignore   =   1  \n", {"net.ipv4.conf.all.arp_ignore": "1"}),
        ("# c\n; c\n\nnot a setting\n", {}),
        ("-net.ipv4.conf.eth9.arp_ignore = 1\n", {"net.ipv4.conf.eth9.arp_ignore": "1"}),
        ("net/ipv4/conf/eth0.100/arp_ignore = 1\n", {"net.ipv4.conf.eth0/100.arp_ignore": "1"}),
        ("a.b = 1\na.b = 2\n", {"a.b": "2"}),
    ],
)
def test_parse_sysctl_file(text: str, expected: dict[str, str]) -> None:
    assert parse_sysctl_file(text) == expected


def test_read_file(tmp_path: Path) -> None:
    path = tmp_path / "x.conf"
    assert read_file(str(path)) is None
    path.write_text("a = 1\n")
    assert read_file(str(path)) == "a = 1\n"


def test_plan_present_guide_settings_and_file() -> None:
    settings = sa.settings_for(True, {"arp_ignore": None, "arp_announce": None, "rp_filter": None})
    assert settings == {"arp_ignore": 1, "arp_announce": 2, "rp_filter": None}
    scopes = sa.plan_scopes([], True, ["all", "default", "eth0", "lo"], settings)
    assert (scopes.managed, scopes.reported, scopes.keys) == (["all", "default"], ["eth0", "lo"],
                                                              ["arp_ignore", "arp_announce"])
    assert scopes.read == ["all", "default", "eth0", "lo"]
    before = {scope: {"arp_ignore": 0, "arp_announce": 2} for scope in scopes.read}
    plan = sa.plan(scopes, settings, before, present=True, persist=True, file_before=None)
    assert plan.changes == [("all", "arp_ignore", 0, 1), ("default", "arp_ignore", 0, 1)]
    assert plan.file_after is not None and "net.ipv4.conf.all.arp_ignore = 1\n" in plan.file_after
    assert plan.file_changed and plan.changed


def test_plan_absent_removes_the_file_and_nothing_else_when_reset() -> None:
    settings = sa.settings_for(False, {"arp_ignore": None, "arp_announce": None, "rp_filter": None})
    scopes = sa.plan_scopes(["eth0"], False, ["all", "eth0"], settings)
    before = {scope: {"arp_ignore": 0, "arp_announce": 0} for scope in scopes.read}
    plan = sa.plan(scopes, settings, before, present=False, persist=True, file_before="old\n")
    assert plan.changes == [] and plan.file_after is None and plan.changed
    unpersisted = sa.plan(scopes, settings, before, present=False, persist=False, file_before=None)
    assert not unpersisted.changed
    assert sa.values_text({"eth0.100": {"rp_filter": 2}}) == "net.ipv4.conf.eth0/100.rp_filter = 2\n"
