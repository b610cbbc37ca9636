"""site.yml on the guide's lab as Rocky Linux 9 hosts, in check mode (see conftest and ansible_recorder).

Proves, for EL hosts this Debian controller cannot reach: which tasks of
both roles run and which are skipped, the exact module calls (dnf, httpd,
ipvsadm.service, firewalld, SELinux) and every file the roles would write,
rendered by Ansible with the roles' real defaults and vars. It does not
prove that dnf, firewalld or SELinux accept those calls on a real EL host.
"""

from __future__ import annotations

from roles_harness import FIREWALLD_RUNNING, FIREWALLD_STOPPED, OUR_UNIT, lab_hosts

FW = "lvs.dr.dr_common : "
SE = "lvs.dr.dr_common : "
DIR = "lvs.dr.director : "
RS = "lvs.dr.realserver : "


def test_check_run_succeeds_on_every_host(el9) -> None:
    assert el9.rc == 0, el9.stderr[-3000:]
    assert el9.failures() == {}
    assert sorted(el9.tasks) == ["director", "rs1", "rs2"]
    assert all(call["check_mode"] for call in el9.calls)


def test_director_tasks_and_module_calls(el9) -> None:
    ran = el9.names("director")
    for task in (FW + "Install the packages", DIR + "Write the director's boot files",
                 DIR + "Enable ipvsadm.service to restore the table at boot",
                 FW + "Open the service ports in firewalld's default zone, permanently and now"):
        assert task in ran
    skipped = el9.names("director", skipped=True)
    for task in (FW + "Install the packages with apt", DIR + "Enable the boot unit of the director",
                 FW + "Stop and disable firewalld (guide step 1.2)", SE + "Set the SELinux mode (guide step 1.2)"):
        assert task in skipped
    # EL: the VIP's ifcfg file and ipvsadm.service's configuration, no unit of ours, no /etc/default/ipvsadm.
    boot = [entry["path"] for name, args in el9.modules("director") if name == "lvs.dr.config_files"
            for entry in args["files"] if entry["path"] != "/etc/lvs-dr.nft" and "lvs-dr-firewall" not in entry["path"]]
    assert boot == ["/usr/local/sbin/lvs-dr-director", "/etc/sysconfig/network-scripts/ifcfg-ens33:8",
                    "/etc/sysconfig/ipvsadm-config",
                    "/etc/systemd/system/ipvsadm.service.d/lvs-dr.conf",
                    "/etc/sysctl.d/lvs-dr-director.conf", "/etc/modules-load.d/lvs-dr-director.conf"]
    modules = el9.modules("director")
    # With firewalld, our table holds only the director's notrack rules: nftables and ipvsadm in one run.
    assert [args for name, args in modules if name == "dnf"] == [{"name": ["nftables", "ipvsadm"], "state": "present"}]
    assert ("ansible.posix.firewalld", {"port": "80/tcp", "permanent": True, "immediate": True,
                                        "state": "enabled"}) in modules
    assert ("systemd_service", {"name": "ipvsadm.service", "enabled": True, "daemon_reload": True}) in modules
    ipvs = dict(modules)["lvs.dr.ipvs_service"]
    assert ipvs["save_path"] == "/etc/sysconfig/ipvsadm"
    assert ipvs["services"] == [{"protocol": "tcp", "address": "192.168.206.150", "port": 80, "scheduler": "rr",
                                 "real_servers": [{"address": "192.168.206.128", "weight": 1},
                                                  {"address": "192.168.206.129", "weight": 1}]}]
    assert "apt" not in el9.module_names("director")
    assert "ansible.posix.selinux" not in el9.module_names("director")  # keep: SELinux left as it is


def test_realserver_tasks_and_module_calls(el9) -> None:
    for host in ("rs1", "rs2"):
        modules = el9.modules(host)
        names = [module for module, _args in modules]
        assert [args for name, args in modules if name == "dnf"] == [{"name": ["httpd"], "state": "present"}]
        assert ("systemd", {"name": "httpd", "enabled": True, "state": "started"}) in modules
        assert ("ansible.posix.firewalld", {"port": "80/tcp", "permanent": True, "immediate": True,
                                            "state": "enabled"}) in modules
        # firewalld runs: no nftables table of ours on a real server (the director's notrack needs one).
        assert [m for m in names if m in ("apt", "ansible.posix.selinux")] == []
        assert "/etc/lvs-dr.nft" not in el9.files(host)
        assert el9.status(host, FW + "Install the packages with apt") == "skipped"
        assert "/etc/rc.d/init.d/lvs-rs" not in el9.files(host)  # systemd: the unit, not the init script
        assert "/etc/systemd/system/lvs-dr-realserver.service" in el9.files(host)
        # ARP suppression comes before the VIP, and the firewall before both.
        order = [m for m in names if m in ("ansible.posix.firewalld", "lvs.dr.lvs_sysctl_arp",
                                           "lvs.dr.lvs_loopback_vip")]
        assert order == ["ansible.posix.firewalld", "lvs.dr.lvs_sysctl_arp", "lvs.dr.lvs_loopback_vip"]


def test_ifcfg_file_of_the_vip(el9) -> None:
    ifcfg = el9.files("director")["/etc/sysconfig/network-scripts/ifcfg-ens33:8"]
    lines = set(ifcfg["content"].splitlines())
    assert {"DEVICE=ens33:8", "IPADDR=192.168.206.150", "PREFIX=24", "ONBOOT=yes", "BOOTPROTO=static"} <= lines
    assert "ARPUPDATE=no" not in lines  # the director is meant to answer ARP for the VIP
    assert ifcfg["mode"] == "0644"


def test_ipvsadm_service_never_saves_over_the_restore_file(el9) -> None:
    files = el9.files("director")
    config = set(files["/etc/sysconfig/ipvsadm-config"]["content"].splitlines())
    assert {'IPVS_SAVE_ON_STOP="no"', 'IPVS_SAVE_ON_RESTART="no"'} <= config
    dropin = files["/etc/systemd/system/ipvsadm.service.d/lvs-dr.conf"]["content"].splitlines()
    service = dropin[dropin.index("[Service]"):]
    assert [line for line in service if line.startswith("ExecStop")] == ["ExecStop=", "ExecStop=/sbin/ipvsadm -C"]
    # Its restore is the role's: the whole file or nothing, only into an empty table.
    assert [line for line in service if line.startswith("ExecStart")] == [
        "ExecStart=", "ExecStart=/usr/local/sbin/lvs-dr-director restore /etc/sysconfig/ipvsadm"]
    assert files["/usr/local/sbin/lvs-dr-director"]["mode"] == "0755"
    # The Debian-family boot owner is not installed on EL.
    assert "/etc/systemd/system/lvs-dr-director.service" not in files
    assert "/etc/default/ipvsadm" not in files


def test_director_notrack_table_next_to_firewalld(el9) -> None:
    files = el9.files("director")
    rules = files["/etc/lvs-dr.nft"]
    assert rules["validate"] == "/usr/sbin/nft -c -f %s"
    body = rules["content"]
    assert "ip daddr 192.168.206.150 tcp dport 80 notrack" in body
    assert "chain input" not in body  # firewalld filters; our table only exempts the VIP from conntrack
    assert "flush ruleset" not in body.replace('"flush ruleset"', "")
    assert ("dnf", {"name": ["nftables", "ipvsadm"], "state": "present"}) in el9.modules("director")
    assert ("systemd_service", {"name": "lvs-dr-firewall.service", "enabled": True, "state": "reloaded",
                                "daemon_reload": True}) in el9.modules("director")


def test_index_page_names_the_real_server(el9) -> None:
    for host, rip in (("rs1", "192.168.206.128"), ("rs2", "192.168.206.129")):
        page = el9.files(host)["/var/www/html/index.html"]["content"]
        assert f'<p id="realserver">{host} {rip}</p>' in page


def test_realserver_unit_on_el(el9) -> None:
    unit = el9.files("rs1")["/etc/systemd/system/lvs-dr-realserver.service"]["content"].splitlines()
    assert "ExecStart=/usr/lib/systemd/systemd-sysctl /etc/sysctl.d/lvs-dr.conf" in unit
    assert "ExecStart=/sbin/ip -4 addr replace 192.168.206.150/32 dev lo label lo:3" in unit
    # ARP settings before the VIP: the sysctl line comes first.
    starts = [line for line in unit if line.startswith("ExecStart=")]
    assert "systemd-sysctl" in starts[0]


def test_without_firewalld_running_auto_keeps_an_nftables_table(run_site) -> None:
    run = run_site(lab_hosts("el9", FIREWALLD_STOPPED))
    assert run.rc == 0 and run.failures() == {}
    for host in ("director", "rs1", "rs2"):
        assert "ansible.posix.firewalld" not in run.module_names(host)
        own = ["ipvsadm"] if host == "director" else ["httpd"]
        assert [args for name, args in run.modules(host) if name == "dnf"] == [
            {"name": ["nftables", *own], "state": "present"}]
        assert "chain input" in run.files(host)["/etc/lvs-dr.nft"]["content"]


def test_guide_opt_in_turns_firewall_and_selinux_off(run_site) -> None:
    """firewall=disabled and selinux=disabled on both roles: the guide's step 1.2, on hosts that had our table."""
    run = run_site(lab_hosts("el9", {**FIREWALLD_RUNNING, **OUR_UNIT}),
                   "director_firewall=disabled", "realserver_firewall=disabled",
                   "director_selinux=disabled", "realserver_selinux=disabled")
    assert run.rc == 0 and run.failures() == {}
    for host in ("director", "rs1", "rs2"):
        modules = run.modules(host)
        assert ("systemd_service", {"name": "firewalld.service", "state": "stopped", "enabled": False}) in modules
        assert ("systemd_service", {"name": "lvs-dr-firewall.service", "state": "stopped", "enabled": False}) in modules
        removed = [args["path"] for module, args in modules if module == "file" and args.get("state") == "absent"]
        assert removed == ["/etc/systemd/system/lvs-dr-firewall.service", "/etc/lvs-dr.nft"]
        assert "ansible.posix.firewalld" not in run.module_names(host)
        assert "/etc/lvs-dr.nft" not in run.files(host)
        assert ("ansible.posix.selinux", {"state": "disabled", "policy": "targeted",
                                          "update_kernel_param": True}) in modules
        assert run.status(host, SE + "Say what was not done or still needs a reboot") == "ok"


def test_permissive_on_el8_leaves_the_kernel_command_line(run_site) -> None:
    run = run_site(lab_hosts("el8", FIREWALLD_RUNNING), "realserver_selinux=permissive")
    assert run.rc == 0 and run.failures() == {}
    assert ("ansible.posix.selinux", {"state": "permissive", "policy": "targeted",
                                      "update_kernel_param": False}) in run.modules("rs1")
    assert "ansible.posix.selinux" not in run.module_names("director")  # director_selinux stays keep
    # permissive needs no reboot: no note.
    assert run.status("rs1", SE + "Say what was not done or still needs a reboot") == "skipped"


def test_explicit_firewalld_that_is_not_running_fails_before_any_change(run_site) -> None:
    run = run_site(lab_hosts("el9", FIREWALLD_STOPPED), "realserver_firewall=firewalld")
    assert run.rc != 0
    failures = run.failures()
    assert sorted(failures) == ["rs1", "rs2"]
    assert "firewalld is not running" in failures["rs1"][0]
    assert run.module_names("rs1") == ["lvs.dr.service_info"]  # read only, nothing changed
