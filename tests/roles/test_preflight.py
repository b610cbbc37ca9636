"""The director's pre-flight checks, in the check-mode site.yml run (see conftest and ansible_recorder).

They read only (ipvs_info with table=false, ARP probes) and come before
anything that changes the host; a failing check names the variable and the
value, and the director is left untouched.
"""

from __future__ import annotations

from typing import Any, Callable

from roles_harness import DEB_VIP, LAB, Run, lab_hosts

READ_ONLY = {"lvs.dr.ipvs_info", "lvs.dr.arp_probe", "lvs.dr.service_info"}


def _with(host: str, **profile: Any) -> dict[str, Any]:
    hosts = lab_hosts("debian12")
    hosts[host].update(profile)
    return hosts


def _site(run_site: Callable[..., Run], hosts: dict[str, Any], *extra: str) -> Run:
    return run_site(hosts, f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}", *extra)


def _director_changed_nothing(run: Run) -> None:
    assert set(run.module_names("director")) <= READ_ONLY, run.module_names("director")


def test_probes_come_first_and_read_only(deb: Run) -> None:
    modules = deb.modules("director")
    names = [name for name, _args in modules]
    assert names[:2] == ["lvs.dr.ipvs_info", "lvs.dr.arp_probe"], names
    assert names.count("lvs.dr.arp_probe") == 1  # the VIP and every real server in one probe
    assert modules[0][1]["table"] is False
    probe = modules[1][1]
    assert probe["addresses"] == [DEB_VIP, LAB["rs1"], LAB["rs2"]] and "address" not in probe
    assert probe["device"] == "ens33" and probe["source"] == LAB["director"]
    for host in ("rs1", "rs2"):
        assert "lvs.dr.arp_probe" not in deb.module_names(host)


def test_vip_already_answered_fails_naming_it(run_site: Callable[..., Run]) -> None:
    run = _site(run_site, _with("director", arp={DEB_VIP: True}))
    assert run.rc != 0
    (message,) = run.failures()["director"]
    assert f"director_vip: {DEB_VIP} is already answered for on ens33" in message
    _director_changed_nothing(run)


def test_silent_real_server_fails_naming_it(run_site: Callable[..., Run]) -> None:
    run = _site(run_site, _with("director", arp={LAB["rs2"]: False}))
    (message,) = run.failures()["director"]
    assert f"real servers {LAB['rs2']} do not answer ARP on ens33" in message
    _director_changed_nothing(run)


def test_missing_scheduler_fails_naming_it(run_site: Callable[..., Run]) -> None:
    run = _site(run_site, _with("director", missing_schedulers=["rr"]), "director_scheduler=rr")
    (message,) = run.failures()["director"]
    assert "director_scheduler / director_services: scheduler(s) rr not available" in message
    _director_changed_nothing(run)


def test_missing_interface_fails_naming_it(run_site: Callable[..., Run]) -> None:
    run = _site(run_site, lab_hosts("debian12"), "director_interface=ens99")
    (message,) = run.failures()["director"]
    assert "director_interface: no interface 'ens99' on this host" in message
    _director_changed_nothing(run)


def test_preflight_can_be_switched_off(run_site: Callable[..., Run]) -> None:
    run = _site(run_site, _with("director", arp={DEB_VIP: True}), "director_preflight=false")
    assert run.failures() == {}
    assert not {"lvs.dr.ipvs_info", "lvs.dr.arp_probe"} & set(run.module_names("director"))


BARE_INVENTORY = "[directors]\ndirector\n\n[realservers]\nrs1\nrs2\n"


def test_a_missing_vip_stops_each_role_before_any_module(run_site: Callable[..., Run]) -> None:
    """director_vip and realserver_vip are required and have no default: the roles' argument check names them."""
    run = run_site(lab_hosts("debian12"), inventory=BARE_INVENTORY)
    assert run.rc != 0
    failures = run.failures()
    assert sorted(failures) == ["rs1", "rs2"]  # every real server failed, so the director's play never starts
    assert "missing required arguments: realserver_vip" in failures["rs1"][0]
    assert run.module_names("rs1") == []  # only the facts were read
    run = run_site(lab_hosts("debian12"), f"realserver_vip={DEB_VIP}", inventory=BARE_INVENTORY)
    (message,) = run.failures()["director"]
    assert "missing required arguments: director_vip" in message
    assert run.module_names("director") == []


def test_an_unknown_os_family_stops_both_roles_naming_it(run_site: Callable[..., Run]) -> None:
    hosts = lab_hosts("debian12")
    for host in ("rs1", "rs2"):
        hosts[host]["facts"].update(os_family="Suse", distribution="openSUSE Leap")
    run = run_site(hosts, f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}")
    failures = run.failures()
    assert sorted(failures) == ["rs1", "rs2"]
    assert "this host is openSUSE Leap of the Suse family. Nothing was changed." in failures["rs1"][0]
    assert "lvs.dr.realserver knows the Debian and RedHat OS families" in failures["rs1"][0]
    assert run.module_names("rs1") == []
    hosts = lab_hosts("debian12")
    hosts["director"]["facts"].update(os_family="Archlinux", distribution="Archlinux")
    run = run_site(hosts, f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}")
    (message,) = run.failures()["director"]
    assert "lvs.dr.director knows the Debian and RedHat OS families" in message
    _director_changed_nothing(run)
    assert run.module_names("director") == []
