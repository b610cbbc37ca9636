"""lvs_sysctl_arp on a real kernel (in a network namespace; the sysctl.d file goes to a tmp dir)."""

from __future__ import annotations

from pathlib import Path

from ansible_collections.lvs.dr.tests.unit.sysctl_file import parse_sysctl_file

KEYS = ("arp_ignore", "arp_announce", "rp_filter")


def snapshot(netns, path: Path, scopes=("all", "default", "lo", "eth0", "eth1")):
    live = {(s, k): netns.sysctl(s, k) for s in scopes for k in KEYS}
    return live, path.read_text() if path.exists() else None


def test_guide_settings_converge_and_absent_restores(netns, converge, tmp_path) -> None:
    path = tmp_path / "lvs-dr.conf"
    initial = snapshot(netns, path)
    args = {"interfaces": ["eth0"], "path": str(path)}
    result = converge("lvs_sysctl_arp", args, lambda: snapshot(netns, path))
    assert result["changed"] and result["file_changed"]
    assert result["effective"] == {"eth0": {"arp_ignore": 1, "arp_announce": 2}}
    for scope in ("all", "default", "eth0"):
        assert (netns.sysctl(scope, "arp_ignore"), netns.sysctl(scope, "arp_announce")) == (1, 2)
    assert netns.sysctl("lo", "arp_ignore") == 0  # not named: untouched
    assert netns.sysctl("eth1", "rp_filter") == initial[0][("eth1", "rp_filter")]  # rp_filter unmanaged
    assert parse_sysctl_file(path.read_text()) == {
        f"net.ipv4.conf.{scope}.{key}": value
        for scope in ("all", "default", "eth0")
        for key, value in (("arp_ignore", "1"), ("arp_announce", "2"))
    }
    file_diff, live_diff = result["diff"]
    assert file_diff["after"] == path.read_text()
    assert "net.ipv4.conf.eth0.arp_ignore = 1" in live_diff["after"]

    absent = converge("lvs_sysctl_arp", dict(args, state="absent"), lambda: snapshot(netns, path))
    assert absent["changed"] and not path.exists()
    assert snapshot(netns, path) == initial


def test_effective_value_is_max_of_all_and_interface(netns, converge, tmp_path) -> None:
    """PITFALLS 1: conf.all wins when higher; an interface value above it wins too."""
    path = tmp_path / "x.conf"
    netns.sh("sh", "-c", "echo 2 > /proc/sys/net/ipv4/conf/eth1/arp_ignore")
    result = converge("lvs_sysctl_arp", {"path": str(path), "persist": False}, lambda: snapshot(netns, path))
    assert netns.sysctl("eth1", "arp_ignore") == 2 and netns.sysctl("lo", "arp_announce") == 0
    assert result["effective"]["eth1"] == {"arp_ignore": 2, "arp_announce": 2}  # max(all=1, eth1=2)
    assert result["effective"]["lo"] == {"arp_ignore": 1, "arp_announce": 2}  # max(all, lo=0)
    assert not path.exists()


def test_rp_filter_loose_and_restore(netns, converge, tmp_path) -> None:
    path = tmp_path / "x.conf"
    args = {"path": str(path), "interfaces": ["eth0", "lo"], "rp_filter": 2, "include_default": False}
    default_before = netns.sysctl("default", "arp_ignore")
    result = converge("lvs_sysctl_arp", args, lambda: snapshot(netns, path))
    assert result["effective"]["eth0"]["rp_filter"] == 2 and netns.sysctl("all", "rp_filter") == 2
    assert netns.sysctl("default", "arp_ignore") == default_before
    converge("lvs_sysctl_arp", dict(args, state="absent", rp_filter=0), lambda: snapshot(netns, path))
    assert (netns.sysctl("eth0", "rp_filter"), netns.sysctl("eth0", "arp_ignore")) == (0, 0)


def test_bad_input_changes_nothing(netns, tmp_path) -> None:
    path = tmp_path / "x.conf"
    before = snapshot(netns, path)
    cases = [
        ({"interfaces": ["eth7"]}, "no such interface: eth7"),
        ({"arp_ignore": 4}, "arp_ignore"),
        ({"arp_announce": 5}, "arp_announce"),
        ({"path": "lvs-dr.conf"}, "path must be absolute"),
    ]
    for args, message in cases:
        result = netns.run_module("lvs_sysctl_arp", {"path": str(path), **args})
        assert result.get("failed") and message in result["msg"], (args, result)
    assert snapshot(netns, path) == before
