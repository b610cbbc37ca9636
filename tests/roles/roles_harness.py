"""Helpers of the role tests: the real roles through the real ansible-playbook, with host facts of our choosing.

``run_site`` runs ``site.yml`` against ``inventories/lab`` (the guide's
director, rs1, rs2) through ``ansible_recorder.py``: ansible-core does all of
its controller-side work for real (argument specs, defaults, vars,
include_vars, when/loop, templates), the hosts' facts come from a profile
(Rocky Linux 9, Debian 12, ...), and no module is shipped to or run on any
host -- each call is recorded instead (see the recorder's docstring for what
that proves and what it does not).

A run returns the per-task outcome (ok/changed/skipped/failed), the module
calls with their arguments, and, in check mode with diff, every file the
``template`` tasks would write (content, destination, mode, validate
command), so the templates are rendered by Ansible itself with the roles'
real defaults and vars.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".cache" / "collections"
RECORDER = Path(__file__).with_name("ansible_recorder.py")
INVENTORY = REPO / "inventories" / "lab"

# The guide's addresses, as inventories/lab has them (nothing connects to them).
LAB = {"director": "192.168.206.130", "rs1": "192.168.206.128", "rs2": "192.168.206.129"}
FIREWALLD_RUNNING = {"firewalld.service": {"name": "firewalld.service", "state": "running", "status": "enabled",
                                           "source": "systemd"}}
FIREWALLD_STOPPED = {"firewalld.service": {"name": "firewalld.service", "state": "stopped", "status": "disabled",
                                           "source": "systemd"}}
OUR_UNIT = {"lvs-dr-firewall.service": {"name": "lvs-dr-firewall.service", "state": "running", "status": "enabled",
                                        "source": "systemd"}}


def facts(os_name: str, host: str, *, service_mgr: str = "systemd", selinux: str = "enforcing") -> dict[str, Any]:
    """What ``setup`` (gather_subset network + min) reports for the lab host on that OS."""
    address = LAB[host]
    common = {
        "system": "Linux",
        "nodename": host,
        "hostname": host,
        "service_mgr": service_mgr,
        "default_ipv4": {"address": address, "interface": "ens33", "prefix": "24", "netmask": "255.255.255.0",
                         "gateway": "192.168.206.2"},
        "all_ipv4_addresses": [address],
        "interfaces": ["lo", "ens33"],
        "ens33": {"device": "ens33", "active": True, "macaddress": "00:0c:29:00:00:01",
                  "ipv4": {"address": address, "prefix": "24"}},
    }
    if os_name in ("el9", "el8"):
        major = os_name[2:]
        selinux_facts: dict[str, Any] = {"status": "disabled"} if selinux == "disabled" else {
            "status": "enabled", "mode": selinux, "config_mode": selinux, "type": "targeted", "policyvers": 33}
        return {**common, "os_family": "RedHat", "distribution": "Rocky", "distribution_major_version": major,
                "distribution_version": f"{major}.4", "pkg_mgr": "dnf", "selinux": selinux_facts}
    if os_name == "debian12":
        return {**common, "os_family": "Debian", "distribution": "Debian", "distribution_major_version": "12",
                "distribution_version": "12.7", "distribution_release": "bookworm", "pkg_mgr": "apt",
                "selinux": {"status": "Missing selinux Python library"}}
    raise ValueError(os_name)


def lab_hosts(os_name: str, services: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """The three lab hosts on one OS, with the same services on each."""
    return {host: {"facts": facts(os_name, host, **kwargs), "services": services or {}} for host in LAB}


# A second director beside the guide's, for the keepalived pair.
DIRECTOR2 = "192.168.206.131"
PAIR_INVENTORY = f"""
[directors]
director ansible_host={LAB['director']} director_vrrp_priority=150
director2 ansible_host={DIRECTOR2} director_vrrp_priority=100
[realservers]
rs1 ansible_host={LAB['rs1']} realserver_rip={LAB['rs1']}
rs2 ansible_host={LAB['rs2']} realserver_rip={LAB['rs2']}
"""


def node_facts(os_name: str, like: str, address: str, mac: str) -> dict[str, Any]:
    """The facts of lab host ``like`` on that OS, moved to another address and MAC (another node of its kind)."""
    found = facts(os_name, like)
    found["default_ipv4"]["address"] = address
    found["ens33"]["ipv4"]["address"] = address
    found["ens33"]["macaddress"] = mac
    found["all_ipv4_addresses"] = [address]
    return found


@dataclass
class Run:
    rc: int
    stderr: str
    output: dict[str, Any]
    calls: list[dict[str, Any]]
    tasks: dict[str, list[tuple[str, str, dict[str, Any]]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for play in self.output.get("plays", []):
            for task in play["tasks"]:
                for host, result in task["hosts"].items():
                    self.tasks.setdefault(host, []).append((task["task"]["name"], _status(result), result))

    def status(self, host: str, name: str) -> str:
        """Outcome of the task called ``name`` (full name, with its ``role : `` prefix) on ``host``."""
        found = [status for task, status, _result in self.tasks.get(host, []) if task == name]
        assert len(found) == 1, f"{host}: task {name!r} ran {len(found)} times; tasks: {self.names(host)}"
        return found[0]

    def names(self, host: str, *, skipped: bool = False) -> list[str]:
        return [name for name, status, _result in self.tasks.get(host, []) if (status == "skipped") == skipped]

    def failures(self) -> dict[str, list[str]]:
        failed = {host: [f"{name}: {result.get('msg')}" for name, status, result in tasks if status == "failed"]
                  for host, tasks in self.tasks.items()}
        return {host: messages for host, messages in failed.items() if messages}

    def modules(self, host: str) -> list[tuple[str, dict[str, Any]]]:
        """The modules that would change or read the host, in order (fact gathering and file probes left out)."""
        probes = {"setup", "stat"}
        return [(call["module"], call["args"]) for call in self.calls
                if call["host"] == host and call["module"] not in probes and not call["args"].get("_diff_peek")]

    def module_names(self, host: str) -> list[str]:
        return [module for module, _args in self.modules(host)]

    def files(self, host: str) -> dict[str, dict[str, Any]]:
        """path -> {content, mode, validate} of every file a template or lvs.dr.config_files task would write."""
        written: dict[str, dict[str, Any]] = {}
        for _name, status, result in self.tasks.get(host, []):
            if result.get("action") != "ansible.builtin.template" or status == "skipped":
                continue
            for item in result.get("results") or [result]:
                args = item["invocation"]["module_args"]
                diffs = item["diff"] if isinstance(item["diff"], list) else [item["diff"]]
                written[args["dest"]] = {"content": diffs[0]["after"], "mode": args.get("mode"),
                                         "validate": args.get("validate")}
        for module, args in self.modules(host):
            if module == "lvs.dr.config_files":
                for entry in args["files"]:
                    written[entry["path"]] = {"content": entry["content"], "mode": entry.get("mode", "0644"),
                                              "validate": entry.get("validate")}
        return written


def _status(result: dict[str, Any]) -> str:
    if result.get("failed"):
        return "failed"
    if result.get("skipped"):
        return "skipped"
    return "changed" if result.get("changed") else "ok"


def ensure_collection_link() -> None:
    link = COLLECTIONS / "ansible_collections" / "lvs" / "dr"
    if not link.exists():
        if link.is_symlink():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO, link)


# The documentation address stands for the VIP in the Debian run, so that
# test_nftables can send traffic to it inside a network namespace.
DEB_VIP = "198.51.100.150"


def netns_unavailable() -> str | None:
    """Why network namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    if shutil.which("ip") is None:
        return "iproute2 'ip' is not installed"
    probe = f"lvsdr-rt-probe-{uuid.uuid4().hex[:8]}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False).returncode != 0:
        return "network namespaces are not available here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None
