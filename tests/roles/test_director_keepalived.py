"""director_table_owner: keepalived, in the check-mode site.yml run (see conftest and ansible_recorder).

keepalived.conf is rendered by Ansible from the same service list, checked with
``keepalived -t`` before it replaces the old file; lvs.dr.ipvs_service and the
ipvsadm restore at boot stay away; a pair of directors gets unicast VRRP peers,
their priorities and the sync daemon; bad input fails before any change,
naming the variable and the value.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from typing import Any, Callable

import pytest
from roles_harness import DEB_VIP, DIRECTOR2, FIREWALLD_RUNNING, LAB, Run, lab_hosts, node_facts
from roles_harness import PAIR_INVENTORY as ROLES_PAIR_INVENTORY

KA = "keepalived_conf"
CONF = "/etc/keepalived/keepalived.conf"
FACT = "/etc/ansible/facts.d/lvs_dr_director.fact"
RELEASE = "/usr/local/sbin/lvs-dr-keepalived-release"
DROPIN = "/etc/systemd/system/keepalived.service.d/lvs-dr.conf"
RELEASE_FILE = "/run/lvs-dr-keepalived-release"
D = "lvs.dr.director : "
READ_ONLY = {"lvs.dr.service_info"}
PAIR_INVENTORY = ROLES_PAIR_INVENTORY + "[directors:vars]\ndirector_interface=ens33\n"


def _pair_hosts(**director: Any) -> dict[str, Any]:
    hosts = lab_hosts("debian12")
    second = node_facts("debian12", "director", DIRECTOR2, "00:0c:29:00:00:02")
    hosts["director2"] = {"facts": second, "services": {}}
    hosts["director"].update(director)
    return hosts


def _site(run_site: Callable[..., Run], hosts: dict[str, Any], *extra: str, inventory: str | None = None) -> Run:
    return run_site(hosts, f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}", "director_table_owner=keepalived",
                    *extra, inventory=inventory)


def _block(text: str, head: str) -> list[str]:
    """The stripped lines of the top-level block that starts with ``head``."""
    lines = text.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(head))
    end = next(index for index in range(start, len(lines)) if lines[index] == "}")
    return [line.strip() for line in lines[start:end + 1] if line.strip() and not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def single(run_site: Callable[..., Run]) -> Run:
    return _site(run_site, lab_hosts("debian12"))


@pytest.fixture(scope="module")
def pair(run_site: Callable[..., Run]) -> Run:
    services = [{"address": DEB_VIP, "port": 80, "scheduler": "wlc", "persistence_timeout": 300,
                 "health_check": {"type": "HTTP_GET", "path": "/health", "status_code": 204},
                 "inhibit_on_failure": True, "sorry_server": {"address": "192.168.206.140", "port": 8080},
                 "real_servers": [{"address": LAB["rs1"], "weight": 3}, {"address": LAB["rs2"], "weight": 1}]}]
    return _site(run_site, _pair_hosts(), "director_vrrp_nopreempt=true",
                 json.dumps({"director_services": services}), inventory=PAIR_INVENTORY)


def test_single_director_converges_without_ipvsadm_owner(single: Run) -> None:
    assert single.rc == 0, single.stderr[-3000:]
    assert single.failures() == {}
    names = single.module_names("director")
    assert "lvs.dr.ipvs_service" not in names
    assert "lvs.dr.lvs_loopback_vip" not in names  # keepalived holds the VIP
    files = single.files("director")
    assert "/etc/systemd/system/lvs-dr-director.service" not in files
    assert 'AUTO="false"' in files["/etc/default/ipvsadm"]["content"].splitlines()
    assert json.loads(files[FACT]["content"]) == {"table_owner": "keepalived"}
    for _name, args in single.modules("director"):
        assert not (args.get("name") in ("ipvsadm.service", "lvs-dr-director.service") and args.get("enabled"))


def test_keepalived_is_installed_in_the_one_package_run(single: Run) -> None:
    (apt,) = [args for name, args in single.modules("director") if name == "apt"]
    assert apt["name"] == ["nftables", "ipvsadm", "keepalived"]


def test_single_director_keepalived_conf(single: Run) -> None:
    conf = single.files("director")[CONF]
    assert conf["validate"] == "/usr/sbin/keepalived -t -f %s"
    text = conf["content"]
    assert not re.search(r"^\s*vrrp_strict", text, re.M)
    assert _block(text, "global_defs") == ["global_defs {", "router_id director", "}"]  # no sync daemon alone
    assert _block(text, "vrrp_instance") == [
        "vrrp_instance VI_LVS_DR {", "state MASTER", "interface ens33", "virtual_router_id 51", "priority 100",
        "advert_int 1", "track_file {", "lvs_dr_release", "}",
        "virtual_ipaddress {", f"{DEB_VIP}/24 dev ens33 label ens33:8", "}", "}"]
    assert _block(text, "track_file lvs_dr_release") == [
        "track_file lvs_dr_release {", f'file "{RELEASE_FILE}"', "weight 0", "init_file 0 overwrite", "}"]
    assert _block(text, "virtual_server") == [
        f"virtual_server {DEB_VIP} 80 {{", "delay_loop 6", "lvs_sched rr", "lvs_method DR", "protocol TCP",
        f"real_server {LAB['rs1']} 80 {{", "weight 1",
        "TCP_CHECK {", "connect_timeout 3", "retry 3", "delay_before_retry 2", "}", "}",
        f"real_server {LAB['rs2']} 80 {{", "weight 1",
        "TCP_CHECK {", "connect_timeout 3", "retry 3", "delay_before_retry 2", "}", "}",
        "}"]


def test_stop_gives_up_the_vip_before_keepalived_deletes_its_services(single: Run) -> None:
    """The unit's drop-in runs the release script on stop: track file to 1 (FAULT), wait for the VIP to go."""
    files = single.files("director")
    (paths,) = [[args["path"] for args in entry["files"]] for name, entry in single.modules("director")
                if name == "lvs.dr.config_files" and CONF in [args["path"] for args in entry["files"]]]
    assert paths[:4] == [CONF, FACT, RELEASE, DROPIN]  # one module run
    assert files[RELEASE]["mode"] == "0755"
    dropin = [line for line in files[DROPIN]["content"].splitlines() if line and not line.startswith("#")]
    assert dropin == ["[Service]", f"ExecStop={RELEASE}"]
    script = files[RELEASE]["content"]
    assert f"echo 1 > {RELEASE_FILE}" in script
    assert "ip -o addr show dev ens33" in script and f"for vip in {DEB_VIP}; do" in script


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
def test_release_script_waits_for_the_vip_then_returns(single: Run, tmp_path: Any) -> None:
    """Run the rendered script against a fake ip: it writes 1, polls until the VIP is gone, and never fails."""
    script = single.files("director")[RELEASE]["content"].replace(RELEASE_FILE, str(tmp_path / "release"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    count = tmp_path / "count"
    count.write_text("0")
    # the VIP is there for the first two looks, then gone
    (bin_dir / "ip").write_text(
        "#!/bin/sh\n"
        f"n=$(cat {count}); echo $((n + 1)) > {count}\n"
        f"echo '2: ens33    inet 192.168.206.130/24 brd 192.168.206.255 scope global ens33'\n"
        f"[ \"$n\" -lt 2 ] && echo '2: ens33    inet {DEB_VIP}/24 scope global secondary ens33:8'\n"
        "exit 0\n")
    (bin_dir / "ip").chmod(0o755)
    (tmp_path / "release.sh").write_text(script.replace("PATH=/usr/sbin:/usr/bin:/sbin:/bin", f"PATH={bin_dir}:$PATH"))
    done = subprocess.run(["sh", str(tmp_path / "release.sh")], capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "release").read_text() == "1\n"
    assert count.read_text().strip() == "3"
    assert "no VIP on ens33 after 0.2 s" in done.stdout


def test_first_start_is_start_and_enable_never_restart(single: Run) -> None:
    units = [args for name, args in single.modules("director") if name == "systemd_service"]
    # daemon_reload: the unit's drop-in is new
    assert {"name": "keepalived.service", "state": "started", "enabled": True, "daemon_reload": True} in units
    assert not any(args.get("state") == "restarted" for args in units)
    # Started now: no reload in the same run.
    assert single.status("director", D + "Reload keepalived when its configuration changed") == "skipped"


def test_pair_keepalived_conf(pair: Run) -> None:
    assert pair.rc == 0, pair.stderr[-3000:]
    assert pair.failures() == {}
    first = pair.files("director")[CONF]["content"]
    second = pair.files("director2")[CONF]["content"]
    assert _block(first, "global_defs") == ["global_defs {", "router_id director",
                                            "lvs_sync_daemon ens33 VI_LVS_DR", "}"]
    vrrp = _block(first, "vrrp_instance")
    # nopreempt: both start as BACKUP, the priorities decide.
    assert {"state BACKUP", "priority 150", "nopreempt", f"unicast_src_ip {LAB['director']}"} <= set(vrrp)
    assert vrrp[vrrp.index("unicast_peer {") + 1] == DIRECTOR2
    vrrp2 = _block(second, "vrrp_instance")
    assert {"state BACKUP", "priority 100", "nopreempt", f"unicast_src_ip {DIRECTOR2}"} <= set(vrrp2)
    assert vrrp2[vrrp2.index("unicast_peer {") + 1] == LAB["director"]
    service = _block(first, "virtual_server")
    assert service[:8] == [f"virtual_server {DEB_VIP} 80 {{", "delay_loop 6", "lvs_sched wlc", "lvs_method DR",
                           "protocol TCP", "persistence_timeout 300", "sorry_server 192.168.206.140 8080",
                           f"real_server {LAB['rs1']} 80 {{"]
    assert service[8:18] == ["weight 3", "inhibit_on_failure", "HTTP_GET {", "url {", "path /health",
                             "status_code 204", "}", "connect_timeout 3", "retry 3", "delay_before_retry 2"]
    for host in ("director", "director2"):
        assert "lvs.dr.ipvs_service" not in pair.module_names(host)


def test_pair_preflight_accepts_the_peer_holding_the_vip(run_site: Callable[..., Run]) -> None:
    """On a re-run the other director may hold the VIP: its MAC answering is no conflict, anybody else's is."""
    # The recorder answers ARP with 00:0c:29:00:00:99: first nobody's MAC in the pair, then director2's.
    foreign = _site(run_site, _pair_hosts(arp={DEB_VIP: True}), inventory=PAIR_INVENTORY)
    (message,) = foreign.failures()["director"]
    assert f"director_vip: {DEB_VIP} is already answered for on ens33 by 00:0c:29:00:00:99" in message
    hosts = _pair_hosts(arp={DEB_VIP: True})
    hosts["director2"]["facts"]["ens33"]["macaddress"] = "00:0C:29:00:00:99"
    peer = _site(run_site, hosts, inventory=PAIR_INVENTORY)
    assert peer.rc == 0, peer.failures()
    assert CONF in peer.files("director")


def test_ipvsadm_mode_is_unchanged_by_the_new_variables(deb: Run) -> None:
    for host in ("director",):
        names = deb.names(host)
        assert not any("keepalived" in name.lower() for name in names)
        assert CONF not in deb.files(host)
        assert "lvs.dr.ipvs_service" in deb.module_names(host)


def test_switch_from_ipvsadm_removes_its_boot_owner(run_site: Callable[..., Run]) -> None:
    ours = {"lvs-dr-director.service": {"state": "running", "status": "enabled"}}
    run = _site(run_site, {**lab_hosts("debian12"), "director": {**lab_hosts("debian12")["director"],
                                                                 "services": ours}})
    assert run.rc == 0, run.stderr[-3000:]
    modules = run.modules("director")
    assert ("systemd_service", {"name": "lvs-dr-director.service", "state": "stopped", "enabled": False}) in modules
    removed = [args["path"] for name, args in modules if name == "file" and args.get("state") == "absent"]
    assert removed == ["/etc/systemd/system/lvs-dr-director.service", "/etc/ipvsadm.rules",
                       "/usr/local/sbin/lvs-dr-director"]
    # keepalived would not take over the existing services (their old weights would stay): removed first.
    assert ("lvs.dr.ipvs_service", {"services": [{"protocol": "tcp", "address": DEB_VIP, "port": 80,
                                                  "state": "absent"}]}) in modules
    started = [args for name, args in modules if name == "systemd_service" and args["name"] == "keepalived.service"]
    assert started == [{"name": "keepalived.service", "state": "started", "enabled": True, "daemon_reload": True}]


def test_switch_back_to_ipvsadm_removes_keepalived(run_site: Callable[..., Run]) -> None:
    hosts = lab_hosts("debian12")
    hosts["director"]["facts"]["local"] = {"lvs_dr_director": {"table_owner": "keepalived"}}
    run = run_site(hosts, f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}")
    assert run.rc == 0, run.stderr[-3000:]
    names = run.module_names("director")
    modules = run.modules("director")
    stop = ("systemd_service", {"name": "keepalived.service", "state": "stopped", "enabled": False})
    assert stop in modules
    removed = [args["path"] for name, args in modules if name == "file" and args.get("state") == "absent"]
    assert removed == [CONF, FACT, DROPIN, RELEASE]
    # keepalived goes before the ipvsadm owner declares the services again.
    assert modules.index(stop) < names.index("lvs.dr.ipvs_service")


def test_foreign_keepalived_is_refused(run_site: Callable[..., Run]) -> None:
    hosts = lab_hosts("debian12")
    hosts["director"]["services"] = {"keepalived.service": {"state": "running", "status": "enabled"}}
    run = _site(run_site, hosts)
    (message,) = run.failures()["director"]
    assert "director_table_owner: keepalived, but keepalived already runs on this host" in message
    assert set(run.module_names("director")) <= READ_ONLY


@pytest.mark.parametrize(("extra", "expected"), [
    ('{"director_health_check": {"type": "PING_CHECK"}}',
     "director_health_check.type: unknown health check type 'PING_CHECK'"),
    (json.dumps({"director_services": [{"address": DEB_VIP, "port": 80, "real_servers": [{"address": LAB["rs1"]}],
                                        "health_check": {"type": "HTTP_GET", "path": "health"}}]}),
     "director_services[0].health_check.path: an HTTP path starts with '/' and has no spaces (got 'health')"),
    ('{"director_vrrp_router_id": 256}', "director_vrrp_router_id: must be between 1 and 255 (got 256)"),
    ('{"director_vrrp_router_id": 0}', "director_vrrp_router_id: must be between 1 and 255 (got 0)"),
    ('{"director_services": [{"fwmark": 7, "real_servers": [{"address": "192.168.206.128", "port": 80}]}]}',
     "director_services[0].fwmark: mark 7 is not one the firewall sets (director_firewall_marks: [])"),
])
def test_bad_input_fails_before_any_change(run_site: Callable[..., Run], extra: str, expected: str) -> None:
    run = _site(run_site, lab_hosts("debian12"), extra)
    assert run.rc != 0
    (message,) = run.failures()["director"]
    assert expected in message
    assert run.module_names("director") == []


def test_same_priority_in_a_pair_fails_naming_both(run_site: Callable[..., Run]) -> None:
    inventory = PAIR_INVENTORY.replace("director_vrrp_priority=150", "director_vrrp_priority=100")
    run = _site(run_site, _pair_hosts(), inventory=inventory)
    for host in ("director", "director2"):
        (message,) = run.failures()[host]
        assert "director_vrrp_priority: director and director2 both have priority 100" in message
        assert run.module_names(host) == []


def test_fwmark_service_with_a_known_mark(run_site: Callable[..., Run]) -> None:
    services = [{"fwmark": 7, "scheduler": "sh", "real_servers": [{"address": LAB["rs1"], "port": 443}]}]
    run = _site(run_site, lab_hosts("debian12"), json.dumps({"director_services": services,
                                                             "director_firewall_marks": [7]}))
    assert run.rc == 0, run.failures()
    block = _block(run.files("director")[CONF]["content"], "virtual_server")
    # keepalived -t rejects a protocol or a real-server port on a fwmark service (keepalived 2.2.7).
    assert block == ["virtual_server fwmark 7 {", "delay_loop 6", "lvs_sched sh", "lvs_method DR",
                     f"real_server {LAB['rs1']} {{", "weight 1", "TCP_CHECK {", "connect_port 443",
                     "connect_timeout 3", "retry 3", "delay_before_retry 2", "}", "}", "}"]


NFT_FILE = "/etc/lvs-dr.nft"


def _peer_rules(run: Run, host: str) -> list[str]:
    return [line.strip() for line in run.files(host)[NFT_FILE]["content"].splitlines() if " saddr { " in line]


def test_pair_firewall_accepts_vrrp_and_sync_from_the_peer_only(pair: Run) -> None:
    """A pair elects only if each director's input chain (policy drop) accepts the other's VRRP and sync traffic."""
    assert _peer_rules(pair, "director") == [
        f"ip saddr {{ {DIRECTOR2} }} ip daddr 224.0.0.81 udp dport 8848 accept",
        f"ip saddr {{ {DIRECTOR2} }} meta l4proto 112 accept"]
    assert _peer_rules(pair, "director2") == [
        f"ip saddr {{ {LAB['director']} }} ip daddr 224.0.0.81 udp dport 8848 accept",
        f"ip saddr {{ {LAB['director']} }} meta l4proto 112 accept"]
    nft = shutil.which("nft")
    if nft:
        checked = subprocess.run([nft, "-c", "-f", "-"], input=pair.files("director")[NFT_FILE]["content"],
                                 capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr


def test_pair_without_sync_daemon_opens_only_vrrp(run_site: Callable[..., Run]) -> None:
    run = _site(run_site, _pair_hosts(), "director_vrrp_sync_daemon=false", inventory=PAIR_INVENTORY)
    assert run.rc == 0, run.failures()
    assert _peer_rules(run, "director") == [f"ip saddr {{ {DIRECTOR2} }} meta l4proto 112 accept"]
    assert "lvs_sync_daemon" not in run.files("director")[CONF]["content"]


def test_single_director_and_ipvsadm_mode_open_nothing_for_peers(single: Run, deb: Run) -> None:
    # One director: its adverts go out (multicast), nothing comes in to accept.
    assert _peer_rules(single, "director") == []
    assert _peer_rules(deb, "director") == []
    assert "112" not in deb.files("director")[NFT_FILE]["content"]


def test_pair_with_firewalld_gets_one_rich_rule_per_peer(run_site: Callable[..., Run]) -> None:
    hosts = _pair_hosts()
    for name in ("director", "director2"):
        hosts[name]["services"] = dict(FIREWALLD_RUNNING)
    run = _site(run_site, hosts, inventory=PAIR_INVENTORY)
    assert run.rc == 0, run.failures()
    rules = sorted(args["rich_rule"] for module, args in run.modules("director")
                   if module == "ansible.posix.firewalld" and "rich_rule" in args)
    assert rules == [
        f'rule family="ipv4" source address="{DIRECTOR2}" destination address="224.0.0.81" '
        'port port="8848" protocol="udp" accept',
        f'rule family="ipv4" source address="{DIRECTOR2}" protocol value="vrrp" accept']
