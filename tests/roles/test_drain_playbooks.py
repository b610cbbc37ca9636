"""lvs.dr.drain and lvs.dr.undrain on the guide's lab (see conftest and ansible_recorder).

The module itself is tested in tests/unit (a fake ipvsadm) and on the real
kernel in the Molecule scenario ``default`` (a live connection through the
VIP held while its real server drains) and, for the keepalived owner, in
extensions/molecule/shared/keepalived_zero_loss.yml (the Molecule scenario
``keepalived``); here:
which real server the playbooks pick from the inventory, on which hosts,
which path each table owner takes, with which arguments and which
keepalived.conf.
"""

from __future__ import annotations

import re
from typing import Any

from roles_harness import DEB_VIP, lab_hosts

RS1 = "192.168.206.128"  # rs1's realserver_rip in inventories/lab
RS2 = "192.168.206.129"
CONF = "/etc/keepalived/keepalived.conf"
KEEPALIVED = (f"director_vip={DEB_VIP}", "director_table_owner=keepalived")


def _drains(run, host: str = "director") -> list[dict]:
    return [args for module, args in run.modules(host) if module == "lvs.dr.ipvs_drain"]


def test_drain_takes_the_inventory_host_s_address_on_every_director(run_site) -> None:
    run = run_site(lab_hosts("debian12"), "drain_host=rs1", playbook="playbooks/drain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    assert _drains(run) == [{"real_server": RS1, "state": "drained", "wait_for": "active", "timeout": 300.0}]
    assert _drains(run, "rs1") == [] and _drains(run, "client") == []


def test_drain_with_removal_waiting_for_all_and_an_address(run_site) -> None:
    run = run_site(lab_hosts("debian12"), "drain_host=192.0.2.77", "drain_remove=true", "drain_wait_for=all",
                   "drain_timeout=600", playbook="playbooks/drain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    # -e gives text; the module converts it
    assert _drains(run) == [{"real_server": "192.0.2.77", "state": "absent", "wait_for": "all", "timeout": "600"}]


def test_drain_with_removal_waits_for_every_entry_unless_told_otherwise(run_site) -> None:
    run = run_site(lab_hosts("debian12"), "drain_host=rs1", "drain_remove=true", playbook="playbooks/drain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    assert _drains(run) == [{"real_server": RS1, "state": "absent", "wait_for": "all", "timeout": 300.0}]
    run = run_site(lab_hosts("debian12"), "drain_host=rs1", "drain_remove=true", "drain_wait_for=active",
                   playbook="playbooks/drain.yml")
    assert _drains(run) == [{"real_server": RS1, "state": "absent", "wait_for": "active", "timeout": 300.0}]


def test_drain_without_a_host_fails_naming_the_variable_and_changes_nothing(run_site) -> None:
    run = run_site(lab_hosts("debian12"), playbook="playbooks/drain.yml")
    assert run.rc != 0
    assert run.failures()["director"] == [
        "Check that drain_host names a real server: drain_host: give the real server as "
        "-e drain_host=<inventory host or address> (got nothing)"]
    assert _drains(run) == []


def test_undrain_returns_the_inventory_weight_or_the_given_one(run_site) -> None:
    run = run_site(lab_hosts("debian12"), "drain_host=rs1", playbook="playbooks/undrain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    assert [(args["state"], args["weight"]) for args in _drains(run)] == [("active", 1)]
    run = run_site(lab_hosts("debian12"), "drain_host=rs1", "undrain_weight=3", playbook="playbooks/undrain.yml")
    assert [(args["state"], args["weight"]) for args in _drains(run)] == [("active", "3")]


def _keepalived_hosts(marker: bool = True) -> dict[str, Any]:
    hosts = lab_hosts("debian12")
    if marker:  # what lvs.dr.director wrote in keepalived mode (local facts)
        hosts["director"]["facts"]["local"] = {"lvs_dr_director": {"table_owner": "keepalived"}}
    return hosts


def _weights(run: Any) -> list[list[tuple[str, str]]]:
    """(real server, weight) of each keepalived.conf the run would write, in order."""
    return [re.findall(r"real_server (\S+) 80 \{\s+weight (\d+)", args["files"][0]["content"])
            for module, args in run.modules("director") if module == "lvs.dr.config_files"]


def _reloads(run: Any) -> list[dict[str, Any]]:
    return [args for module, args in run.modules("director") if module == "systemd_service"]


def test_drain_with_keepalived_writes_weight_0_reloads_and_waits_on_the_live_table(run_site) -> None:
    run = run_site(_keepalived_hosts(), "drain_host=rs1", *KEEPALIVED, playbook="playbooks/drain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    assert _weights(run) == [[(RS1, "0"), (RS2, "1")]]
    (written,) = [args["files"] for module, args in run.modules("director") if module == "lvs.dr.config_files"]
    assert [entry["path"] for entry in written] == [CONF]  # keepalived.conf only, the role's own template
    assert written[0]["validate"] == "/usr/sbin/keepalived -t -f %s"
    assert _reloads(run) == [{"name": "keepalived.service", "state": "reloaded"}]  # never restarted
    assert _drains(run) == [{"real_server": RS1, "state": "drained", "wait_for": "active", "timeout": 300.0,
                             "table_owner": "keepalived"}]
    # the module waits only after the reload
    names = [module for module, _args in run.modules("director")]
    assert names.index("systemd_service") < names.index("lvs.dr.ipvs_drain")


def test_drain_with_keepalived_and_removal_reloads_twice(run_site) -> None:
    run = run_site(_keepalived_hosts(), "drain_host=rs1", "drain_remove=true", *KEEPALIVED,
                   playbook="playbooks/drain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    assert _weights(run) == [[(RS1, "0"), (RS2, "1")], [(RS2, "1")]]
    assert len(_reloads(run)) == 2
    # a removal waits for every entry first (a removed server's lingering entries drop new SYNs reusing their port)
    assert [(args["state"], args["wait_for"]) for args in _drains(run)] == [("drained", "all"), ("absent", "none")]
    run = run_site(_keepalived_hosts(), "drain_host=rs1", "drain_remove=true", "drain_wait_for=active", *KEEPALIVED,
                   playbook="playbooks/drain.yml")
    assert [(args["state"], args["wait_for"]) for args in _drains(run)] == [("drained", "active"), ("absent", "none")]


def test_undrain_with_keepalived_writes_the_inventory_weight_or_the_given_one(run_site) -> None:
    run = run_site(_keepalived_hosts(), "drain_host=rs1", *KEEPALIVED, playbook="playbooks/undrain.yml")
    assert run.rc == 0, run.stderr[-3000:]
    assert _weights(run) == [[(RS1, "1"), (RS2, "1")]]
    assert [(args["state"], args["weight"], args["table_owner"]) for args in _drains(run)] == [
        ("active", 1, "keepalived")]
    run = run_site(_keepalived_hosts(), "drain_host=rs1", "undrain_weight=3", *KEEPALIVED,
                   playbook="playbooks/undrain.yml")
    assert _weights(run) == [[(RS1, "3"), (RS2, "1")]]


def test_a_pending_change_of_owner_fails_before_any_change(run_site) -> None:
    run = run_site(_keepalived_hosts(marker=False), "drain_host=rs1", *KEEPALIVED, playbook="playbooks/drain.yml")
    assert run.rc != 0
    (message,) = run.failures()["director"]
    assert "director_table_owner: the inventory says keepalived, but ipvsadm owns the table of director" in message
    assert "run site.yml first. Nothing was changed." in message
    assert [module for module, _args in run.modules("director")] == []
    # and the other way round
    run = run_site(_keepalived_hosts(), "drain_host=rs1", f"director_vip={DEB_VIP}", playbook="playbooks/drain.yml")
    assert run.rc != 0 and "the inventory says ipvsadm, but keepalived owns" in run.failures()["director"][0]
    assert run.modules("director") == []


def test_with_keepalived_a_server_in_no_service_or_no_address_fails_before_any_change(run_site) -> None:
    run = run_site(_keepalived_hosts(), "drain_host=192.0.2.77", *KEEPALIVED, playbook="playbooks/drain.yml")
    assert run.rc != 0
    assert "drain_host: 192.0.2.77 is in no virtual service of the director's inventory" in str(run.failures())
    assert run.modules("director") == []


def test_an_unknown_host_fails_naming_it_before_any_change(run_site) -> None:
    for extra in ((), KEEPALIVED):
        hosts = _keepalived_hosts() if extra else lab_hosts("debian12")
        run = run_site(hosts, "drain_host=rs9", *extra, playbook="playbooks/drain.yml")
        assert run.rc != 0
        assert run.failures()["director"] == [
            "Check that drain_host is a host of the inventory or an address: drain_host: rs9 is neither a host "
            "of the inventory nor an IP address. Nothing was changed."]
        assert run.modules("director") == []
