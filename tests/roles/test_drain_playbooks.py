"""lvs.dr.drain and lvs.dr.undrain on the guide's lab (see conftest and ansible_recorder).

The module itself is tested in tests/unit (a fake ipvsadm) and on the real
kernel in the Molecule scenario ``default`` (a live connection through the
VIP held while its real server drains); here: which real server the
playbooks pick from the inventory, on which hosts, with which arguments.
"""

from __future__ import annotations

from roles_harness import lab_hosts

RS1 = "192.168.206.128"  # rs1's realserver_rip in inventories/lab


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
