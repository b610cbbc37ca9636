"""The director's IPVS settings (net.ipv4.vs.conn_reuse_mode, expire_nodest_conn), in the check-mode site.yml run.

Both table owners write the sysctl file and the modules-load file (ip_vs loaded before systemd-sysctl reads
the file at boot) in the module run that writes their other files, so an idempotent re-run runs no module
more; the file is applied live only when it changed (a command, skipped in check mode). null leaves the
kernel's value alone; a container (no module index) gets no modules-load file.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from roles_harness import DEB_VIP, Run, lab_hosts

SYSCTL = "/etc/sysctl.d/lvs-dr-director.conf"
MODULES = "/etc/modules-load.d/lvs-dr-director.conf"
D = "lvs.dr.director : "


def _settings(content: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in content.splitlines() if "=" in line and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def _written_with(run: Run, path: str) -> list[str]:
    """The paths of every lvs.dr.config_files run that writes ``path``."""
    return [[entry["path"] for entry in args["files"]] for module, args in run.modules("director")
            if module == "lvs.dr.config_files" and path in [entry["path"] for entry in args["files"]]]


def _deb(run_site: Callable[..., Run], *extra: str, hosts: dict[str, Any] | None = None) -> Run:
    return run_site(hosts or lab_hosts("debian12"), f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}", *extra)


def test_defaults_set_both_in_the_boot_files_run(deb: Run) -> None:
    files = deb.files("director")
    assert _settings(files[SYSCTL]["content"]) == {"net.ipv4.vs.conn_reuse_mode": "2",
                                                   "net.ipv4.vs.expire_nodest_conn": "1"}
    assert _settings(files[MODULES]["content"]) == {} and files[MODULES]["content"].splitlines()[-1] == "ip_vs"
    (paths,) = _written_with(deb, SYSCTL)
    assert MODULES in paths and "/etc/systemd/system/lvs-dr-director.service" in paths  # no module run of its own
    # after the files, applied from the file (ip_vs is loaded by then: lvs.dr.ipvs_service ran before)
    names = deb.module_names("director")
    assert names.index("command") > names.index("lvs.dr.ipvs_service")
    assert [args["argv"] for module, args in deb.modules("director") if module == "command"] == [
        ["sysctl", "-q", "-p", SYSCTL]]
    for host in ("rs1", "rs2"):
        assert SYSCTL not in deb.files(host) and MODULES not in deb.files(host)


def test_redhat_family_too(el9: Run) -> None:
    (paths,) = _written_with(el9, SYSCTL)
    assert MODULES in paths and "/etc/sysconfig/ipvsadm-config" in paths
    assert _settings(el9.files("director")[SYSCTL]["content"])["net.ipv4.vs.conn_reuse_mode"] == "2"


def test_keepalived_mode_writes_them_with_keepalived_conf(run_site: Callable[..., Run]) -> None:
    run = _deb(run_site, "director_table_owner=keepalived")
    assert run.rc == 0 and run.failures() == {}, run.stderr[-3000:]
    (paths,) = _written_with(run, SYSCTL)
    assert paths[0] == "/etc/keepalived/keepalived.conf" and MODULES in paths
    assert _settings(run.files("director")[SYSCTL]["content"]) == {"net.ipv4.vs.conn_reuse_mode": "2",
                                                                   "net.ipv4.vs.expire_nodest_conn": "1"}
    names = run.module_names("director")
    assert names.index("command") > names.index("lvs.dr.config_files")


def test_values_from_the_command_line_and_ip_forward_share_the_file(run_site: Callable[..., Run]) -> None:
    run = _deb(run_site, "director_ipvs_conn_reuse_mode=1", "director_ipvs_expire_nodest_conn=0",
               "director_ip_forward=true")
    assert run.rc == 0 and run.failures() == {}, run.stderr[-3000:]
    assert _settings(run.files("director")[SYSCTL]["content"]) == {
        "net.ipv4.ip_forward": "1", "net.ipv4.vs.conn_reuse_mode": "1", "net.ipv4.vs.expire_nodest_conn": "0"}


def test_null_leaves_the_kernel_alone(run_site: Callable[..., Run]) -> None:
    both = _deb(run_site, json.dumps({"director_ipvs_conn_reuse_mode": None,
                                      "director_ipvs_expire_nodest_conn": None}))
    assert both.rc == 0 and both.failures() == {}, both.stderr[-3000:]
    assert SYSCTL not in both.files("director") and MODULES not in both.files("director")
    one = _deb(run_site, json.dumps({"director_ipvs_conn_reuse_mode": None}))
    assert _settings(one.files("director")[SYSCTL]["content"]) == {"net.ipv4.vs.expire_nodest_conn": "1"}
    assert MODULES in one.files("director")


def test_no_modules_load_file_without_a_module_index(run_site: Callable[..., Run]) -> None:
    """A container sees no /lib/modules: systemd-modules-load would fail there (the host has ip_vs loaded)."""
    hosts = lab_hosts("debian12")
    hosts["director"]["modules_index"] = False
    run = _deb(run_site, hosts=hosts)
    assert run.rc == 0 and run.failures() == {}, run.stderr[-3000:]
    assert MODULES not in run.files("director")
    assert "net.ipv4.vs.conn_reuse_mode = 2" in run.files("director")[SYSCTL]["content"]


def test_bad_value_fails_before_any_change(run_site: Callable[..., Run]) -> None:
    run = _deb(run_site, "director_ipvs_conn_reuse_mode=4")
    assert run.rc != 0
    (message,) = run.failures()["director"]
    assert message.startswith(D + "Check the IPVS settings: director_ipvs_conn_reuse_mode must be 0, 1, 2, 3 or null")
    assert "it is 4" in message
    assert [module for module in run.module_names("director") if module != "lvs.dr.service_info"] == []
