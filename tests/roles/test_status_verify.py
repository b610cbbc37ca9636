"""lvs.dr.status and lvs.dr.verify in both table-owner modes (see conftest and ansible_recorder).

The recorder answers the read-only calls from canned host data (the live table, the addresses, keepalived.conf,
the client's probe). ipvsadm mode reads and shows what it always did; keepalived mode also shows which director
holds the VIP (VRRP MASTER) and which real servers the health checks took out. The pair is proven on the real
kernel in the Molecule scenario ``ha``.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Callable

from roles_harness import DIRECTOR2, LAB, PAIR_INVENTORY, Run, node_facts

VIP = "198.51.100.150"
CLIENT = "192.168.206.10"
INVENTORY = PAIR_INVENTORY + f"""[clients]
client ansible_host={CLIENT}
[all:vars]
director_vip={VIP}
"""
CONF = f"""
virtual_server {VIP} 80 {{
    lvs_sched rr
    protocol TCP
    real_server {LAB['rs1']} 80 {{
        weight 1
    }}
    real_server {LAB['rs2']} 80 {{
        weight 1
    }}
}}
"""
STATUS = "playbooks/status.yml"
VERIFY = "playbooks/verify.yml"
SHOW = "Show the VRRP state and the real servers the health checks took out (keepalived mode)"


def _table(*rips: str, weight: int = 1) -> dict[str, Any]:
    stats = {"connections": 40, "packets_in": 200, "packets_out": 0, "bytes_in": 1, "bytes_out": 0}
    servers = [{"address": rip, "port": 80, "forwarding": "dr", "weight": weight, "active_connections": 0,
                "inactive_connections": 0, "stats": stats, "rate": {}} for rip in rips]
    service = {"protocol": "tcp", "address": VIP, "port": 80, "scheduler": "rr", "stats": stats, "rate": {},
               "real_servers": servers}
    return {"changed": False, "version": "1.2.1", "services": [service], "connections": []}


def _addresses(*addresses: str) -> dict[str, Any]:
    info = [{"ifname": "ens33", "addr_info": [{"local": address} for address in addresses]}]
    return {"changed": False, "rc": 0, "stdout": json.dumps(info)}


def _host(name: str, address: str, **answers: Any) -> dict[str, Any]:
    found = node_facts("debian12", "director" if name.startswith("director") else "rs1", address,
                       "00:0c:29:00:00:" + address.rsplit(".", 1)[1][-2:].zfill(2))
    return {"facts": found, "services": {"keepalived.service": {"state": "running", "status": "enabled"}},
            "answers": answers}


def _pair(master_table: dict[str, Any], *, holder: str = "director") -> dict[str, Any]:
    conf = {"changed": False, "content": base64.b64encode(CONF.encode()).decode(), "encoding": "base64"}
    hosts = {
        "director": _host("director", LAB["director"], **{"lvs.dr.ipvs_info": master_table, "slurp": conf}),
        "director2": _host("director2", DIRECTOR2,
                           **{"lvs.dr.ipvs_info": _table(LAB["rs1"], LAB["rs2"]), "slurp": conf}),
    }
    hosts[holder]["facts"]["all_ipv4_addresses"].append(VIP)
    hosts["director"]["answers"]["command"] = _addresses(LAB["director"], *([VIP] if holder == "director" else []))
    hosts["director2"]["answers"]["command"] = _addresses(DIRECTOR2, *([VIP] if holder == "director2" else []))
    holder_mac = hosts[holder]["facts"]["ens33"]["macaddress"]
    probe = {"answers": [f"rs{i % 2 + 1} {LAB['rs' + str(i % 2 + 1)]}" for i in range(20)], "vip_macs": [holder_mac]}
    hosts["client"] = _host("client", CLIENT, command={"changed": False, "rc": 0, "stdout": json.dumps(probe)})
    arp = {"changed": False, "effective": {"ens33": {"arp_ignore": 1, "arp_announce": 2}}}
    for rs in ("rs1", "rs2"):
        hosts[rs] = _host(rs, LAB[rs], command={"changed": False, "rc": 0, "stdout": "20"},
                          **{"lvs.dr.lvs_sysctl_arp": arp})
    return hosts


def _messages(run: Run, host: str, name: str) -> list[str]:
    return [line for task, _status, result in run.tasks[host] if task == name for line in result["msg"]]


def test_status_in_ipvsadm_mode_reads_only_the_table(run_site: Callable[..., Run]) -> None:
    hosts = _pair(_table(LAB["rs1"], LAB["rs2"]))
    run = run_site(hosts, playbook=STATUS, inventory=INVENTORY)
    assert run.rc == 0, run.failures()
    assert run.module_names("director") == ["lvs.dr.ipvs_info"]
    assert run.names("director") == ["Read the table, counters, rates and connections", "Show the table",
                                     "Show the connections"]


def test_status_in_keepalived_mode_names_the_master_and_the_servers_checked_out(run_site: Callable[..., Run]) -> None:
    run = run_site(_pair(_table(LAB["rs2"])), "director_table_owner=keepalived", playbook=STATUS,
                   inventory=INVENTORY)
    assert run.rc == 0, run.failures()
    assert _messages(run, "director", SHOW) == [
        f"VRRP: director is MASTER (holds {VIP})",
        f"health checks took out {LAB['rs1']}:80 of TCP {VIP}:80: not in the table"]
    assert _messages(run, "director2", SHOW) == [f"VRRP: director2 is BACKUP (does not hold {VIP})",
                                                 "health checks took out: none"]
    # read-only: the table, the unit's state, the addresses, the file
    assert set(run.module_names("director")) == {"lvs.dr.ipvs_info", "lvs.dr.service_info", "command", "slurp"}


def test_status_shows_weight_0_of_inhibit_on_failure_as_out(run_site: Callable[..., Run]) -> None:
    run = run_site(_pair(_table(LAB["rs1"], LAB["rs2"], weight=0)), "director_table_owner=keepalived",
                   playbook=STATUS, inventory=INVENTORY)
    assert _messages(run, "director", SHOW)[1:] == [
        f"health checks took out {LAB[rs]}:80 of TCP {VIP}:80: weight 0 (inhibit_on_failure)" for rs in ("rs1", "rs2")]


def test_verify_in_keepalived_mode_checks_the_master_only(run_site: Callable[..., Run]) -> None:
    run = run_site(_pair(_table(LAB["rs1"], LAB["rs2"]), holder="director2"), "director_table_owner=keepalived",
                   playbook=VERIFY, inventory=INVENTORY)
    assert run.rc == 0, run.failures()
    assert _messages(run, "client", "Show which director holds the VIP (keepalived mode)") == [
        "director: BACKUP", f"director2: MASTER (holds {VIP})"]
    # the BACKUP carries no traffic: its counters are not asked for
    assert "lvs.dr.ipvs_info" not in run.module_names("director")
    assert "lvs.dr.ipvs_info" in run.module_names("director2")


def test_verify_in_keepalived_mode_fails_naming_a_server_checked_out(run_site: Callable[..., Run]) -> None:
    run = run_site(_pair(_table(LAB["rs2"])), "director_table_owner=keepalived", playbook=VERIFY,
                   inventory=INVENTORY)
    assert run.rc != 0
    assert run.failures()["director"] == [
        "No real server is out of the table (keepalived mode, health checks): "
        f"The health checks took out: {LAB['rs1']} (not in the table)"]


def test_verify_in_ipvsadm_mode_is_unchanged(run_site: Callable[..., Run]) -> None:
    hosts = _pair(_table(LAB["rs1"], LAB["rs2"]))
    del hosts["director2"]
    inventory = INVENTORY.replace(f"director2 ansible_host={DIRECTOR2} director_vrrp_priority=100\n", "")
    run = run_site(hosts, playbook=VERIFY, inventory=inventory)
    assert run.rc == 0, run.failures()
    assert run.names("director", skipped=True) == [
        "Leave out a director that does not hold the VIP (keepalived mode, VRRP BACKUP)",
        "Read keepalived.conf and the table (keepalived mode)", "Read the whole table (keepalived mode)",
        "No real server is out of the table (keepalived mode, health checks)"]
    assert run.module_names("director") == ["lvs.dr.ipvs_info"]
