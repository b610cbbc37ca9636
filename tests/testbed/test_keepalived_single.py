"""director_table_owner keepalived on the test bed: one director, two real servers, real keepalived and IPVS.

Opt-in and slow (a cold run is about 10 minutes under emulation): it needs a
Docker engine whose kernel has IPVS (``source <(tools/labhost env)``) and the
``lvs-dr/node:debian12`` image, and is not part of ``make units``::

    DOCKER_HOST=... .venv/bin/pytest -q -p no:cacheprovider tests/testbed

It creates its own network and containers (``lvs-dr-ka-*``) and removes them
afterwards; nothing else on the engine is touched. site.yml runs for real
(keepalived installed from Debian, keepalived.conf checked with keepalived -t
by lvs.dr.config_files), then: the table is keepalived's, a real server whose
web server stops leaves it and comes back, a change is a reload, and the
director switches to ipvsadm and back leaving nothing of the old owner.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from testbed_nodes import docker, needs_engine, start_node

REPO = Path(__file__).resolve().parents[2]
NETWORK = "lvs-dr-ka-net"
SUBNET = "172.31.99"
NODES = {"director": f"{SUBNET}.2", "rs1": f"{SUBNET}.3", "rs2": f"{SUBNET}.4"}
VIP = f"{SUBNET}.150"

pytestmark = needs_engine


def _on(node: str, command: str) -> str:
    return docker("exec", f"lvs-dr-ka-{node}", "sh", "-c", command).stdout


def _table() -> str:
    return _on("director", "ipvsadm -Ln")


def _wait(predicate: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.3)
    raise AssertionError(f"not within {timeout} s; table:\n{_table()}")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("ka")
    docker("network", "create", "--subnet", f"{SUBNET}.0/24", NETWORK)
    try:
        for node, address in NODES.items():
            start_node(f"lvs-dr-ka-{node}", f"ka-{node}", NETWORK, address)
        (work / "hosts.yml").write_text(
            "all:\n  vars: {ansible_connection: docker, ansible_python_interpreter: /usr/bin/python3}\n"
            "  children:\n"
            "    directors: {hosts: {director: {ansible_host: lvs-dr-ka-director}}}\n"
            "    realservers: {hosts: {rs1: {ansible_host: lvs-dr-ka-rs1}, rs2: {ansible_host: lvs-dr-ka-rs2}}}\n")
        (work / "vars.yml").write_text(
            f"director_vip: {VIP}\nrealserver_vip: {VIP}\ndirector_table_owner: keepalived\n"
            "director_health_check: {type: HTTP_GET, path: /, status_code: 200, connect_timeout: 1, retry: 1,\n"
            "                        delay_before_retry: 1, delay_loop: 2}\n")

        def booted() -> bool:
            return all("running" in docker("exec", f"lvs-dr-ka-{n}", "systemctl", "is-system-running",
                                           check=False).stdout for n in NODES)

        _wait(booted, 120)
        yield work
    finally:
        for node in NODES:
            docker("rm", "-f", f"lvs-dr-ka-{node}", check=False)
        docker("network", "rm", NETWORK, check=False)


def _site(lab: Path, *extra: str) -> str:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
               ANSIBLE_STRATEGY_PLUGINS=str(REPO / "extensions" / "molecule" / "shared" / "strategy_plugins"),
               ANSIBLE_STRATEGY=os.environ.get("LVS_DR_STRATEGY", "mitogen_linear"),
               ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_TIMEOUT="60", ANSIBLE_NOCOLOR="1")
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), str(REPO / "site.yml"),
            "-i", str(lab / "hosts.yml"), "-e", f"@{lab / 'vars.yml'}"]
    for value in extra:
        argv += ["-e", value]
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc.stdout


def _recap(output: str, host: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(f"{host} ") and "ok=" in line)


def test_keepalived_owns_checks_reloads_and_switches(lab: Path) -> None:
    _site(lab)
    table = _table()
    assert f"TCP  {VIP}:80 rr" in table and f"{NODES['rs1']}:80" in table and f"{NODES['rs2']}:80" in table
    # keepalived takes the VIP when its VRRP instance becomes MASTER, a few seconds after it started.
    vip = _wait(lambda: f"{VIP}/24" in _on("director", "ip -4 addr show dev eth0"), 30)
    print(f"the VIP came up {vip:.1f} s after the run ended")
    assert _on("director", "systemctl is-active keepalived; systemctl is-enabled keepalived").split() == [
        "active", "enabled"]

    # A failing check takes the real server out; it comes back when it answers again.
    _on("rs1", "systemctl stop apache2")
    left = _wait(lambda: f"{NODES['rs1']}:80" not in _table(), 30)
    _on("rs1", "systemctl start apache2")
    back = _wait(lambda: f"{NODES['rs1']}:80" in _table(), 30)
    print(f"rs1 left the table {left:.1f} s after apache2 stopped, back {back:.1f} s after it started")

    # A change is a reload (never a restart), and a re-run changes nothing.
    pid = _on("director", "systemctl show -p MainPID --value keepalived").strip()
    output = _site(lab, "director_weight=2")
    assert "Reload keepalived when its configuration changed" in output
    assert _on("director", "systemctl show -p MainPID --value keepalived").strip() == pid
    assert f"{NODES['rs1']}:80               Route   2" in _table()
    assert "changed=0" in _recap(_site(lab, "director_weight=2"), "director")

    # Switch to ipvsadm: keepalived and its files go, ipvsadm's owner comes.
    _site(lab, "director_weight=2", "director_table_owner=ipvsadm")
    assert _on("director", "systemctl is-active keepalived; systemctl is-enabled keepalived; true").split() == [
        "inactive", "disabled"]
    assert _on("director", "ls /etc/keepalived /etc/ansible/facts.d").split() == [
        "/etc/ansible/facts.d:", "/etc/keepalived:", "keepalived.conf.sample"]
    assert f"{NODES['rs1']}:80               Route   2" in _table()
    assert f"{VIP}/24" in _on("director", "ip -4 addr show dev eth0")

    # And back: the ipvsadm owner's unit and rules go, keepalived declares the new weights.
    _site(lab, "director_weight=3")
    assert "No such file" in docker("exec", "lvs-dr-ka-director", "ls", "/etc/ipvsadm.rules",
                                    "/etc/systemd/system/lvs-dr-director.service", check=False).stderr
    assert f"{NODES['rs1']}:80               Route   3" in _table()
