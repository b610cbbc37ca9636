"""A real server without systemd: the guide's lvs-rs init script, rendered by the role and run for real.

rs1 stands for a Debian-family host with SysV init, rs2 for a RedHat-family
one (the guide's CentOS chkconfig world; EL 8/9 always have systemd). The
script is checked with ``sh -n`` and then started, queried and stopped in a
throwaway network namespace with the real ``ip`` and ``sysctl``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from roles_harness import facts

VIP = "198.51.100.150"
SCRIPTS = {"rs1": "/etc/init.d/lvs-rs", "rs2": "/etc/rc.d/init.d/lvs-rs"}


def sysv_hosts() -> dict:
    return {
        "director": {"facts": facts("debian12", "director"), "services": {}},
        "rs1": {"facts": facts("debian12", "rs1", service_mgr="sysvinit"), "services": {}},
        "rs2": {"facts": facts("el9", "rs2", service_mgr="sysvinit"), "services": {}},
    }


@pytest.fixture(scope="module")
def sysctl_file(tmp_path_factory) -> str:
    """The guide's ARP settings (plus a key of an interface a namespace does not have: -e skips it)."""
    path = tmp_path_factory.mktemp("sysctl") / "lvs-dr.conf"
    path.write_text("net.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\n"
                    "net.ipv4.conf.ens33.arp_ignore = 1\nnet.ipv4.conf.ens33.arp_announce = 2\n")
    return str(path)


@pytest.fixture(scope="module")
def sysv(run_site, sysctl_file):
    return run_site(sysv_hosts(), "realserver_firewall=unmanaged", "director_firewall=unmanaged",
                    f"realserver_vip={VIP}", f"director_vip={VIP}", f"realserver_sysctl_file={sysctl_file}")


def test_default_firewall_on_a_host_without_systemd_stops_before_any_change(run_site) -> None:
    run = run_site(sysv_hosts(), f"realserver_vip={VIP}", f"director_vip={VIP}")
    assert run.rc != 0
    failures = run.failures()
    assert sorted(failures) == ["rs1", "rs2"]
    for host in ("rs1", "rs2"):
        assert "the service manager is sysvinit" in failures[host][0]
        assert "unmanaged" in failures[host][0]
        assert run.module_names(host) == ["lvs.dr.service_info"]  # read only


def test_init_script_instead_of_the_unit(sysv) -> None:
    assert sysv.rc == 0 and sysv.failures() == {}
    for host, path in SCRIPTS.items():
        files = sysv.files(host)
        assert files[path]["mode"] == "0755"
        assert "/etc/systemd/system/lvs-dr-realserver.service" not in files
        assert ("sysvinit", {"name": "lvs-rs", "enabled": True}) in sysv.modules(host)
        assert "systemd_service" not in sysv.module_names(host)


@pytest.mark.parametrize("host", sorted(SCRIPTS))
def test_init_script_parses(sysv, host, tmp_path) -> None:
    script = tmp_path / "lvs-rs"
    script.write_text(sysv.files(host)[SCRIPTS[host]]["content"])
    for shell in ("sh", "bash"):
        if shutil.which(shell):
            proc = subprocess.run([shell, "-n", str(script)], capture_output=True, text=True, check=False)
            assert proc.returncode == 0, f"{shell}: {proc.stderr}"
    text = script.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert "# chkconfig: 2345 09 91" in text and "### BEGIN INIT INFO" in text


@pytest.mark.parametrize("host", sorted(SCRIPTS))
def test_init_script_start_status_stop_in_a_namespace(sysv, host, netns, tmp_path) -> None:
    script = tmp_path / "lvs-rs"
    script.write_text(sysv.files(host)[SCRIPTS[host]]["content"])
    script.chmod(0o755)  # as installed
    ns = netns("rs")

    def lvs_rs(action: str) -> subprocess.CompletedProcess[str]:
        return ns.run("sh", str(script), action, check=False)

    def vip_state() -> tuple[list[str], str]:
        links = json.loads(ns.run("ip", "-j", "-4", "addr", "show", "dev", "lo").stdout or "[]")
        addresses = [f"{info['local']}/{info['prefixlen']} {info.get('label')}"
                     for link in links for info in link.get("addr_info", []) if info["local"] == VIP]
        route = ns.run("ip", "-4", "route", "show", "table", "main", "exact", VIP).stdout.strip()
        return addresses, route

    assert lvs_rs("status").returncode == 3
    started = lvs_rs("start")
    assert started.returncode == 0, started.stderr
    assert vip_state() == ([f"{VIP}/32 lo:3"], f"{VIP} dev lo scope link")
    assert ns.run("cat", "/proc/sys/net/ipv4/conf/all/arp_ignore").stdout.strip() == "1"  # before the VIP
    assert ns.run("cat", "/proc/sys/net/ipv4/conf/all/arp_announce").stdout.strip() == "2"
    again = lvs_rs("start")  # idempotent: no error, nothing doubled
    assert again.returncode == 0, again.stderr
    assert vip_state() == ([f"{VIP}/32 lo:3"], f"{VIP} dev lo scope link")
    status = lvs_rs("status")
    assert status.returncode == 0 and "on lo" in status.stdout

    assert lvs_rs("stop").returncode == 0
    assert vip_state() == ([], "")
    assert lvs_rs("stop").returncode == 0  # stopping twice is fine
    assert lvs_rs("status").returncode == 3
    assert lvs_rs("restart").returncode == 0
    assert vip_state() == ([f"{VIP}/32 lo:3"], f"{VIP} dev lo scope link")
    assert lvs_rs("bogus").returncode == 2


def test_init_script_adds_no_vip_when_the_arp_settings_fail(sysv, sysctl_file, netns, tmp_path) -> None:
    """PITFALLS 2: a VIP without ARP suppression would be announced; start fails instead."""
    bad = tmp_path / "bad.conf"
    bad.write_text("net.ipv4.conf.all.arp_ignore = one\n")  # the kernel refuses it (EINVAL)
    text = sysv.files("rs1")[SCRIPTS["rs1"]]["content"]
    assert f"SYSCTL_FILE={sysctl_file}\n" in text
    script = tmp_path / "lvs-rs"
    script.write_text(text.replace(f"SYSCTL_FILE={sysctl_file}\n", f"SYSCTL_FILE={bad}\n"))
    script.chmod(0o755)
    ns = netns("rs")
    for action in ("start", "restart"):
        assert ns.run("sh", str(script), action, check=False).returncode == 1
        assert VIP not in ns.run("ip", "-4", "addr", "show", "dev", "lo").stdout
