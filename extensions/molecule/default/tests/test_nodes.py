"""Files, units and services the roles own, read over ``docker exec`` after the reboot.

Run by extensions/molecule/default/verify.yml with ``--hosts=docker://...`` and the VIP and
groups in the environment (LVS_DR_VIP, LVS_DR_DIRECTORS, LVS_DR_REALSERVERS).
"""

from __future__ import annotations

import os
import re

import pytest
from testinfra.host import Host

VIP = os.environ.get("LVS_DR_VIP", "")
DIRECTORS = set(filter(None, os.environ.get("LVS_DR_DIRECTORS", "").split(",")))
REALSERVERS = set(filter(None, os.environ.get("LVS_DR_REALSERVERS", "").split(",")))


def _role(host: Host, group: set[str]) -> None:
    if not VIP:
        pytest.fail("LVS_DR_VIP is not set: run these checks through molecule verify")
    if host.backend.get_hostname() not in group:
        pytest.skip("not in this group")


def _default_interface(host: Host) -> str:
    return host.check_output("ip -4 -o route show default").split(" dev ")[1].split()[0]


# --------------------------------------------------------------------- real servers


def test_realserver_sysctl_file(host: Host) -> None:
    _role(host, REALSERVERS)
    conf = host.file("/etc/sysctl.d/lvs-dr.conf")
    assert conf.is_file and conf.user == "root" and conf.mode == 0o644
    text = conf.content_string
    for scope in ("all", "default", _default_interface(host)):
        assert f"net.ipv4.conf.{scope}.arp_ignore = 1" in text
        assert f"net.ipv4.conf.{scope}.arp_announce = 2" in text


def test_realserver_arp_sysctls_live(host: Host) -> None:
    _role(host, REALSERVERS)
    for scope in ("all", _default_interface(host)):
        assert host.sysctl(f"net.ipv4.conf.{scope}.arp_ignore") == 1
        assert host.sysctl(f"net.ipv4.conf.{scope}.arp_announce") == 2


def test_realserver_vip_on_lo(host: Host) -> None:
    _role(host, REALSERVERS)
    addrs = host.check_output("ip -4 -o addr show dev lo")
    assert re.search(rf"inet {re.escape(VIP)}/32 .*scope global lo:3", addrs), addrs
    route = host.check_output(f"ip -4 route show {VIP} table main")
    assert "dev lo" in route, route


def test_realserver_units(host: Host) -> None:
    _role(host, REALSERVERS)
    unit = host.service("lvs-dr-realserver.service")
    assert unit.is_enabled and unit.is_running
    web = host.service("apache2")
    assert web.is_enabled and web.is_running
    assert host.socket("tcp://0.0.0.0:80").is_listening or host.socket("tcp://:::80").is_listening


def test_realserver_page_names_the_server(host: Host) -> None:
    _role(host, REALSERVERS)
    page = host.file("/var/www/html/index.html").content_string
    name = host.check_output("uname -n")
    assert re.search(rf'<p id="realserver">{re.escape(name)} \d+\.\d+\.\d+\.\d+</p>', page), page


# --------------------------------------------------------------------- director


def test_director_vip_on_nic(host: Host) -> None:
    _role(host, DIRECTORS)
    nic = _default_interface(host)
    addrs = host.check_output(f"ip -4 -o addr show dev {nic}")
    assert re.search(rf"inet {re.escape(VIP)}/24 .*{re.escape(nic)}:8", addrs), addrs


def test_director_rules_saved_and_live(host: Host) -> None:
    _role(host, DIRECTORS)
    rules = host.file("/etc/ipvsadm.rules")
    assert rules.is_file and rules.user == "root" and not rules.mode & 0o022
    saved = rules.content_string
    assert f"-A -t {VIP}:80 -s rr" in saved
    assert len(re.findall(rf"-a -t {re.escape(VIP)}:80 -r \S+:80 -g -w 1", saved)) == len(REALSERVERS)
    # after the reboot the live table is exactly what was saved
    assert host.check_output("ipvsadm -Sn").strip() == saved.strip()


def test_director_single_boot_owner(host: Host) -> None:
    _role(host, DIRECTORS)
    unit = host.service("lvs-dr-director.service")
    assert unit.is_enabled and unit.is_running
    assert 'AUTO="false"' in host.file("/etc/default/ipvsadm").content_string


def test_director_ipvs_sysctls_at_boot(host: Host) -> None:
    """The port-reuse settings (conn_reuse_mode 2, expire_nodest_conn 1) hold after the reboot.

    The container's network namespace is new after the restart, with the kernel's defaults (1, 0):
    only systemd-sysctl reading the role's file at boot sets them to 2 and 1 again.
    """
    _role(host, DIRECTORS)
    conf = host.file("/etc/sysctl.d/lvs-dr-director.conf")
    assert conf.is_file and conf.user == "root" and conf.mode == 0o644
    text = conf.content_string
    assert "net.ipv4.vs.conn_reuse_mode = 2" in text, text
    assert "net.ipv4.vs.expire_nodest_conn = 1" in text, text
    assert host.sysctl("net.ipv4.vs.conn_reuse_mode") == 2
    assert host.sysctl("net.ipv4.vs.expire_nodest_conn") == 1


# --------------------------------------------------------------------- both: the default firewall


@pytest.mark.parametrize("group", ["directors", "realservers"])
def test_firewall_on_and_only_the_service_open(host: Host, group: str) -> None:
    _role(host, DIRECTORS if group == "directors" else REALSERVERS)
    unit = host.service("lvs-dr-firewall.service")
    assert unit.is_enabled and unit.is_running
    table = host.check_output("nft list table inet lvs_dr")
    assert "policy drop;" in table
    accepts = [line.strip() for line in table.splitlines() if line.strip().endswith("accept")]
    if group == "directors":
        assert f"ip daddr {VIP} tcp dport 80 accept" in accepts, table
    else:
        assert "tcp dport 80 accept" in accepts, table
    # nothing else but state, loopback, ICMP, DHCPv6 replies and SSH
    others = [line for line in accepts if "dport 80" not in line]
    assert all(("ct state" in line or "iif" in line or "icmp" in line or "dport 22" in line
                or "dport { 22 }" in line or "546" in line) for line in others), others
