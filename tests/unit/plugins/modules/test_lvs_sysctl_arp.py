"""lvs_sysctl_arp main(): validation, check mode, diff and idempotence on a fake /proc/sys tree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.modules import lvs_sysctl_arp


@pytest.fixture
def conf_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "proc" / "conf"
    for scope in ("all", "default", "lo", "eth0", "eth0.100"):
        (root / scope).mkdir(parents=True)
        for key in ("arp_ignore", "arp_announce"):
            (root / scope / key).write_text("0\n")
        (root / scope / "rp_filter").write_text("2\n" if scope != "lo" else "0\n")
    monkeypatch.setattr(lvs_sysctl_arp, "CONF_ROOT", str(root))
    return root


def live(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text().strip() for p in sorted(root.rglob("*")) if p.is_file()}


def test_guide_settings_first_run_changes_second_does_not(run_module, conf_root, tmp_path) -> None:
    path = tmp_path / "lvs-dr.conf"
    args = {"interfaces": ["eth0"], "path": str(path)}
    predicted = run_module(lvs_sysctl_arp, args, check=True, diff=True)
    assert predicted["changed"] and not path.exists()
    assert live(conf_root)["all/arp_ignore"] == "0"

    result = run_module(lvs_sysctl_arp, args, diff=True)
    assert result["changed"] and result["file_changed"]
    for key in ("raw_values", "effective", "live_changes", "diff", "file_changed"):
        assert predicted[key] == result[key], key
    assert result["effective"] == {"eth0": {"arp_ignore": 1, "arp_announce": 2}}
    assert result["raw_values"]["default"] == {"arp_ignore": 1, "arp_announce": 2}
    state = live(conf_root)
    assert (state["all/arp_ignore"], state["eth0/arp_announce"], state["lo/arp_ignore"]) == ("1", "2", "0")
    assert state["all/rp_filter"] == "2"  # unmanaged
    file_diff, live_diff = result["diff"]
    assert file_diff["before"] == "" and file_diff["after"] == path.read_text()
    assert "net.ipv4.conf.eth0.arp_announce = 2\n" in path.read_text()
    assert "net.ipv4.conf.all.arp_ignore = 0\n" in live_diff["before"]
    assert "net.ipv4.conf.all.arp_ignore = 1\n" in live_diff["after"]
    assert oct(path.stat().st_mode & 0o777) == "0o644"

    again = run_module(lvs_sysctl_arp, args)
    assert not again["changed"] and again["live_changes"] == []
    mtime = path.stat().st_mtime_ns
    run_module(lvs_sysctl_arp, args)
    assert path.stat().st_mtime_ns == mtime


def test_file_rewritten_only_when_content_differs(run_module, conf_root, tmp_path) -> None:
    path = tmp_path / "lvs-dr.conf"
    run_module(lvs_sysctl_arp, {"path": str(path)})
    path.write_text("# edited\n")
    result = run_module(lvs_sysctl_arp, {"path": str(path)})
    assert result["changed"] and result["file_changed"] and result["live_changes"] == []
    assert "net.ipv4.conf.all.arp_ignore = 1" in path.read_text()


def test_effective_reports_all_interfaces_when_none_named(run_module, conf_root, tmp_path) -> None:
    (conf_root / "lo" / "arp_ignore").write_text("2\n")
    result = run_module(lvs_sysctl_arp, {"path": str(tmp_path / "f.conf"), "arp_ignore": 1})
    assert result["effective"] == {
        "eth0": {"arp_ignore": 1, "arp_announce": 2},
        "eth0.100": {"arp_ignore": 1, "arp_announce": 2},
        "lo": {"arp_ignore": 2, "arp_announce": 2},  # max(all=1, lo=2)
    }


def test_rp_filter_and_no_default_and_no_persist(run_module, conf_root, tmp_path) -> None:
    path = tmp_path / "f.conf"
    result = run_module(lvs_sysctl_arp, {"path": str(path), "interfaces": ["eth0.100"], "rp_filter": 0,
                               "include_default": False, "persist": False})
    assert not path.exists() and not result["file_changed"]
    assert set(result["raw_values"]) == {"all", "eth0.100"}
    assert result["effective"]["eth0.100"]["rp_filter"] == 0
    state = live(conf_root)
    assert (state["default/arp_ignore"], state["eth0.100/rp_filter"], state["lo/rp_filter"]) == ("0", "0", "0")


def test_absent_removes_file_and_resets_only_managed_keys(run_module, conf_root, tmp_path) -> None:
    path = tmp_path / "lvs-dr.conf"
    run_module(lvs_sysctl_arp, {"path": str(path), "interfaces": ["eth0"], "rp_filter": 0})
    args = {"path": str(path), "interfaces": ["eth0"], "state": "absent"}
    predicted = run_module(lvs_sysctl_arp, args, check=True, diff=True)
    assert predicted["changed"] and path.exists()
    result = run_module(lvs_sysctl_arp, args, diff=True)
    assert predicted["live_changes"] == result["live_changes"] and predicted["diff"] == result["diff"]
    assert not path.exists()
    assert result["diff"][0]["after"] == ""
    state = live(conf_root)
    assert (state["all/arp_ignore"], state["eth0/arp_announce"]) == ("0", "0")
    assert state["all/rp_filter"] == "0"  # left alone: rp_filter not given
    assert not run_module(lvs_sysctl_arp, args)["changed"]
    restored = run_module(lvs_sysctl_arp, dict(args, rp_filter=2))
    assert restored["changed"] and live(conf_root)["all/rp_filter"] == "2"


def test_write_failure_is_reported(run_module, monkeypatch, conf_root, tmp_path) -> None:
    def deny(*_args: Any, **_kwargs: Any) -> None:
        raise PermissionError(30, "Read-only file system")

    monkeypatch.setattr(lvs_sysctl_arp.sa, "write_value", deny)
    result = run_module(lvs_sysctl_arp, {"path": str(tmp_path / "f.conf")})
    assert result["failed"] and "privileged" in result["msg"]
    assert not (tmp_path / "f.conf").exists()


BAD_INPUT = [
    ({"arp_ignore": 5}, "arp_ignore"),
    ({"arp_ignore": 9}, "arp_ignore"),
    ({"arp_announce": 3}, "arp_announce"),
    ({"rp_filter": -1}, "rp_filter"),
    ({"interfaces": ["eth9"]}, "no such interface: eth9"),
    ({"interfaces": ["eth0", "wlan7"]}, "wlan7"),
    ({"interfaces": ["all"]}, "'all'"),
    ({"interfaces": ["bad/name"]}, "'bad/name'"),
    ({"path": "relative/lvs.conf"}, "path must be absolute, got: 'relative/lvs.conf'"),
    ({"path": "/nonexistent-dir-lvsdr/lvs.conf"}, "does not exist"),
    ({"state": "absent", "arp_ignore": 1}, "arp_ignore=1 is not accepted with state=absent"),
    ({"state": "bogus"}, "state"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INPUT)
def test_bad_input_fails_before_touching_anything(run_module, conf_root, tmp_path, args, message) -> None:
    before = live(conf_root)
    args = {"path": str(tmp_path / "f.conf"), **args}
    result = run_module(lvs_sysctl_arp, args)
    assert result["failed"], result
    assert message in result["msg"]
    assert live(conf_root) == before
    assert not (tmp_path / "f.conf").exists()


def test_path_is_a_directory(run_module, conf_root, tmp_path) -> None:
    result = run_module(lvs_sysctl_arp, {"path": str(tmp_path)})
    assert result["failed"] and "is a directory" in result["msg"]
