"""Reading services: systemctl show parsed from recorded output, init scripts from a directory tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import services as svc
from ansible_collections.lvs.dr.plugins.module_utils.command import CommandResult

FIXTURES = Path(__file__).parent / "fixtures" / "services"
RECORDED = ("firewalld", "nftables", "systemd-journald.service", "cron")


def show(stdout: str, rc: int = 0, names: tuple[str, ...] = RECORDED) -> CommandResult:
    return CommandResult(["/usr/bin/systemctl", *svc.systemd_show_args(names)], rc, stdout, "")


def test_one_call_asks_for_every_unit() -> None:
    assert svc.systemd_show_args(["firewalld", "lvs-dr-firewall.service", "x.socket"]) == [
        "show", "--property=LoadState,ActiveState,SubState,UnitFileState", "--",
        "firewalld.service", "lvs-dr-firewall.service", "x.socket"]


def test_recorded_debian13_answer() -> None:
    states = svc.parse_systemd_show(RECORDED, show((FIXTURES / "debian13-show.txt").read_text()))
    by_name = {state.name: state.as_dict() for state in states}
    assert by_name == {
        "firewalld": {"name": "firewalld", "manager": "systemd", "present": False, "active": False,
                      "enabled": None, "state": "absent"},
        "nftables": {"name": "nftables", "manager": "systemd", "present": True, "active": False,
                     "enabled": False, "state": "stopped"},
        "systemd-journald.service": {"name": "systemd-journald.service", "manager": "systemd", "present": True,
                                     "active": True, "enabled": None, "state": "running"},
        "cron": {"name": "cron", "manager": "systemd", "present": False, "active": False, "enabled": None,
                 "state": "absent"},
    }


@pytest.mark.parametrize(("file_state", "enabled"), [
    ("enabled", True), ("enabled-runtime", True), ("disabled", False), ("masked", False), ("static", None),
    ("indirect", None), ("", None)])
def test_unit_file_state(file_state: str, enabled: bool | None) -> None:
    text = f"LoadState=loaded\nActiveState=reloading\nSubState=reload\nUnitFileState={file_state}\n"
    (state,) = svc.parse_systemd_show(["firewalld"], show(text, names=("firewalld",)))
    assert state.enabled is enabled
    assert state.active and state.state == "running"


@pytest.mark.parametrize(("stdout", "rc"), [
    ("", 0),  # no answer at all
    ("LoadState=loaded\nActiveState=active\n", 0),  # one block for four units
    ((FIXTURES / "debian13-show.txt").read_text(), 1),  # systemctl failed
    ("ActiveState=active\n\nActiveState=active\n\nActiveState=active\n\nActiveState=active\n", 0),
])
def test_an_answer_that_cannot_be_read_is_an_error(stdout: str, rc: int) -> None:
    with pytest.raises(svc.ServiceError) as info:
        svc.parse_systemd_show(RECORDED, show(stdout, rc))
    assert "could not read the state of firewalld, nftables" in info.value.msg
    assert info.value.fail_kwargs()["cmd"][0] == "/usr/bin/systemctl"


@pytest.mark.parametrize(("names", "parameter", "text"), [
    ([], "names", "at least one"),
    (["firewalld", "../etc/passwd"], "names[1]", "'../etc/passwd' is not a service name"),
    (["-H host"], "names[0]", "is not a service name"),
    (["a b"], "names[0]", "is not a service name"),
])
def test_bad_names_name_the_parameter(names: list[str], parameter: str, text: str) -> None:
    with pytest.raises(svc.ServiceError) as info:
        svc.validate_names(names)
    assert info.value.fields["parameter"] == parameter
    assert text in info.value.msg


def test_init_scripts(tmp_path: Path) -> None:
    init = tmp_path / "init.d"
    init.mkdir()
    script = init / "firewalld"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (init / "not-executable").write_text("#!/bin/sh\n")
    rc2 = tmp_path / "rc2.d"
    rc2.mkdir()
    os.symlink("../init.d/firewalld", rc2 / "S01firewalld")
    rc_glob = str(tmp_path / "rc[0-6S].d" / "S[0-9][0-9]{name}")

    assert svc.init_script("firewalld.service", str(init)) == str(script)
    assert svc.init_script("not-executable", str(init)) is None
    assert svc.init_script("nothing", str(init)) is None
    assert svc.sysv_enabled("firewalld", rc_glob) is True
    assert svc.sysv_enabled("lvs-rs", rc_glob) is False

    running = svc.sysv_state("firewalld", str(script), CommandResult([str(script), "status"], 0, "", ""), True)
    assert running.as_dict() == {"name": "firewalld", "manager": "sysv", "present": True, "active": True,
                                 "enabled": True, "state": "running"}
    stopped = svc.sysv_state("firewalld", str(script), CommandResult([str(script), "status"], 3, "", ""), False)
    assert (stopped.present, stopped.active, stopped.state) == (True, False, "stopped")
    absent = svc.sysv_state("nothing", None, None, False)
    assert (absent.present, absent.enabled, absent.state) == (False, None, "absent")


def test_systemd_booted(tmp_path: Path) -> None:
    assert svc.systemd_booted(str(tmp_path))
    assert not svc.systemd_booted(str(tmp_path / "missing"))
