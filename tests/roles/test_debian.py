"""site.yml on the guide's lab as Debian 12 hosts, in check mode (see conftest and ansible_recorder).

The Debian path is what Molecule runs for real; here the same run shows the
exact calls and files, including the nftables table that the default
``auto`` firewall keeps on a Debian host (no firewalld).
"""

from __future__ import annotations

import re

from roles_harness import DEB_VIP, lab_hosts

FW = "lvs.dr.dr_common : "
SE = "lvs.dr.dr_common : "
VIP = DEB_VIP


def test_check_run_succeeds(deb) -> None:
    assert deb.rc == 0, deb.stderr[-3000:]
    assert deb.failures() == {}


def test_packages_come_from_apt_with_a_fresh_cache(deb) -> None:
    apt = {"state": "present", "update_cache": True, "cache_valid_time": 3600}
    # One package run per host: the firewall's nftables and the role's own package together.
    assert [args for name, args in deb.modules("director") if name == "apt"] == [
        {"name": ["nftables", "ipvsadm"], **apt}]
    for host in ("rs1", "rs2"):
        assert [args for name, args in deb.modules(host) if name == "apt"] == [{"name": ["nftables", "apache2"], **apt}]
    for host in ("director", "rs1", "rs2"):
        assert not {"dnf", "ansible.posix.firewalld", "ansible.posix.selinux"} & set(deb.module_names(host))


def test_auto_firewall_is_our_nftables_table(deb) -> None:
    for host in ("director", "rs1"):
        files = deb.files(host)
        assert files["/etc/lvs-dr.nft"]["validate"] == "/usr/sbin/nft -c -f %s"
        unit = files["/etc/systemd/system/lvs-dr-firewall.service"]["content"].splitlines()
        assert "ExecStart=/usr/sbin/nft -f /etc/lvs-dr.nft" in unit
        assert "ExecStop=-/usr/sbin/nft delete table inet lvs_dr" in unit
        # Debian's nftables.service runs "flush ruleset" on start, restart and reload: come after it and follow it.
        assert any(line.startswith("After=") and "nftables.service" in line for line in unit)
        assert {"PartOf=nftables.service", "ReloadPropagatedFrom=nftables.service"} <= set(unit)
        assert ("systemd_service", {"name": "lvs-dr-firewall.service", "enabled": True, "state": "reloaded",
                                    "daemon_reload": True}) in deb.modules(host)


def _rules(text: str) -> list[str]:
    """The rule lines of the table (no comments, no chain headers)."""
    return [line.strip() for line in text.splitlines()
            if line.startswith("\t\t") and not line.strip().startswith(("#", "type "))]


def test_director_table_opens_exactly_the_virtual_service_and_ssh(deb) -> None:
    text = deb.files("director")["/etc/lvs-dr.nft"]["content"]
    head = [line for line in text.splitlines() if line and not line.startswith("#")][:3]
    assert head == ["table inet lvs_dr", "delete table inet lvs_dr", "table inet lvs_dr {"]
    assert "type filter hook input priority filter; policy drop;" in text
    assert _rules(text) == [
        "ct state established,related accept",
        'iif "lo" accept',
        "meta l4proto { icmp, ipv6-icmp } accept",
        "ip6 saddr fe80::/10 udp dport 546 accept",
        "tcp dport { 22 } accept",
        f"ip daddr {VIP} tcp dport 80 accept",
        f"ip daddr {VIP} tcp dport 80 notrack",
    ]
    assert "type filter hook prerouting priority raw; policy accept;" in text
    # Never the PITFALLS-4 trap, never anybody else's rules.
    assert not re.search(r"^\s*ct state invalid drop", text, re.M)
    assert not re.search(r"^\s*flush ruleset", text, re.M)
    assert set(re.findall(r"^(?:delete )?table (\S+ \S+)", text, re.M)) == {"inet lvs_dr"}


def test_realserver_table_opens_its_port_and_ssh_without_notrack(deb) -> None:
    text = deb.files("rs1")["/etc/lvs-dr.nft"]["content"]
    assert _rules(text)[-2:] == ["tcp dport { 22 } accept", "tcp dport 80 accept"]
    assert "notrack" not in text


def test_director_boot_owner_on_debian(deb) -> None:
    files = deb.files("director")
    assert 'AUTO="false"' in files["/etc/default/ipvsadm"]["content"].splitlines()
    unit = files["/etc/systemd/system/lvs-dr-director.service"]["content"].splitlines()
    assert f"ExecStart=/sbin/ip -4 addr replace {VIP}/24 dev ens33 label ens33:8" in unit
    # All or nothing, in this order: the NIC, the whole restore file (checked first), then the VIP.
    starts = [line for line in unit if line.startswith("ExecStart=")]
    assert starts == ["ExecStart=/usr/local/sbin/lvs-dr-director wait-interface ens33 30",
                      "ExecStart=/usr/local/sbin/lvs-dr-director restore /etc/ipvsadm.rules",
                      f"ExecStart=/sbin/ip -4 addr replace {VIP}/24 dev ens33 label ens33:8"]
    assert "TimeoutStartSec=90" in unit  # a oneshot unit has no start timeout of its own
    script = files["/usr/local/sbin/lvs-dr-director"]
    assert script["mode"] == "0755" and script["content"].startswith("#!/bin/sh\n")
    assert not any(path.startswith("/etc/sysconfig") for path in files)


def test_realserver_unit_comes_before_the_web_server(deb) -> None:
    unit = deb.files("rs1")["/etc/systemd/system/lvs-dr-realserver.service"]["content"].splitlines()
    assert "Before=apache2.service" in unit


def test_selinux_request_on_debian_is_a_note_not_a_failure(deb) -> None:
    note = [result for name, _status, result in deb.tasks["rs1"]
            if name == SE + "Say what was not done or still needs a reboot"]
    assert note and "SELinux is not available on this host" in note[0]["msg"]
    assert "permissive skipped" in note[0]["msg"]
    assert deb.status("rs1", SE + "Set the SELinux mode (guide step 1.2)") == "skipped"
    assert deb.status("director", SE + "Say what was not done or still needs a reboot") == "skipped"  # keep


def test_unmanaged_touches_no_firewall(run_site) -> None:
    run = run_site(lab_hosts("debian12"), "director_firewall=unmanaged", "realserver_firewall=unmanaged")
    assert run.rc == 0 and run.failures() == {}
    for host in ("director", "rs1"):
        names = run.module_names(host)
        assert "lvs.dr.service_info" not in names
        assert "/etc/lvs-dr.nft" not in run.files(host)
        # The role's own package only; of the firewall part only the package run.
        (apt,) = [args for name, args in run.modules(host) if name == "apt"]
        assert apt["name"] == (["ipvsadm"] if host == "director" else ["apache2"])
        assert [name for name in run.names(host) if name.startswith(FW) and "Validating" not in name] == [
            FW + "Install the packages with apt"]


def test_boolean_switches_given_as_strings_on_the_command_line(run_site) -> None:
    """``-e name=false`` arrives as the string "false": every switch must read it as a boolean."""
    run = run_site(lab_hosts("debian12"), f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}",
                   "director_ip_forward=true", "director_save=false", "realserver_web_enabled=false")
    assert run.rc == 0, run.stderr[-3000:]
    assert run.failures() == {}
    director = run.files("director")
    assert "net.ipv4.ip_forward = 1" in director["/etc/sysctl.d/lvs-dr-director.conf"]["content"]
    unit = director["/etc/systemd/system/lvs-dr-director.service"]["content"]
    assert "ipvsadm" not in unit.split("[Unit]", 1)[1]
    (args,) = [args for module, args in run.modules("director") if module == "lvs.dr.ipvs_service"]
    assert args["save"] in (False, "false")
    for host in ("rs1", "rs2"):
        assert [args["name"] for name, args in run.modules(host) if name == "apt"] == [["nftables"]]  # no apache2
        assert "Before=" not in run.files(host)["/etc/systemd/system/lvs-dr-realserver.service"]["content"]
        assert "/var/www/html/index.html" not in run.files(host)


def test_boolean_switches_off_by_default_stay_off(deb) -> None:
    assert "ip_forward" not in deb.files("director")["/etc/sysctl.d/lvs-dr-director.conf"]["content"]
    unit = deb.files("director")["/etc/systemd/system/lvs-dr-director.service"]["content"]
    assert "lvs-dr-director restore /etc/ipvsadm.rules" in unit
    assert "/var/www/html/index.html" in deb.files("rs1")
