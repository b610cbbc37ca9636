"""keepalived mode under load on the test bed: extensions/molecule/shared/keepalived_zero_loss.yml, for real.

Opt-in and slow (about 10-15 minutes under emulation): it needs a Docker engine
whose kernel has IPVS (``source <(tools/labhost env)``) and the
``lvs-dr/node:debian12`` image, and is not part of ``make units``::

    DOCKER_HOST=... .venv/bin/pytest -q -s -p no:cacheprovider tests/testbed/test_keepalived_zero_loss.py

Its own containers ``kd-ka-director``, ``kd-ka-rs1``, ``kd-ka-rs2`` and
``kd-ka-client`` on the network ``lvs-dr-kd`` (172.31.209.0/24, created when
missing, removed when this test created it and nothing else is on it); all
removed afterwards. site.yml converges the director in keepalived mode (HTTP
health checks), then the shared playbook drains a real server holding a
keep-alive connection, returns it, reloads keepalived with changed weights, a
removed and an added real server, under load, and measures a restart with
the same change as the reference. The figures are printed (``-s``): in total, per
step (which step lost what), and keepalived's journal of the run; each playbook's whole
output is kept in the test's temporary folder (its path is printed).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed_nodes import docker, needs_engine, start_node

REPO = Path(__file__).resolve().parents[2]
NETWORK = "lvs-dr-kd"
SUBNET = "172.31.209"
PREFIX = "kd-ka-"
NODES = {"director": f"{SUBNET}.2", "rs1": f"{SUBNET}.3", "rs2": f"{SUBNET}.4", "client": f"{SUBNET}.5"}
VIP = f"{SUBNET}.150"
SHARED = REPO / "extensions" / "molecule" / "shared"

pytestmark = needs_engine


def _booted() -> bool:
    return all("running" in docker("exec", PREFIX + node, "systemctl", "is-system-running", check=False).stdout
               for node in NODES)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("kd")
    created = False
    if not docker("network", "ls", "-q", "--filter", f"name=^{NETWORK}$").stdout.strip():
        docker("network", "create", "--subnet", f"{SUBNET}.0/24", NETWORK)
        created = True
    try:
        for node, address in NODES.items():
            start_node(PREFIX + node, PREFIX + node, NETWORK, address)
        (work / "hosts.yml").write_text(
            "all:\n  vars: {ansible_connection: docker, ansible_python_interpreter: /usr/bin/python3}\n"
            "  children:\n"
            f"    directors: {{hosts: {{director: {{ansible_host: {PREFIX}director}}}}}}\n"
            # realserver_rip as in inventories/lab: the nested drain runs need no facts of the real servers
            "    realservers:\n      hosts:\n"
            f"        rs1: {{ansible_host: {PREFIX}rs1, realserver_rip: {NODES['rs1']}}}\n"
            f"        rs2: {{ansible_host: {PREFIX}rs2, realserver_rip: {NODES['rs2']}}}\n"
            f"    clients: {{hosts: {{client: {{ansible_host: {PREFIX}client}}}}}}\n")
        (work / "vars.yml").write_text(
            f"director_vip: {VIP}\nrealserver_vip: {VIP}\ndirector_table_owner: keepalived\n"
            "director_health_check: {type: HTTP_GET, path: /, status_code: 200, connect_timeout: 1, retry: 1,\n"
            "                        delay_before_retry: 1, delay_loop: 2}\n")
        start = time.monotonic()
        while not _booted():
            assert time.monotonic() - start < 180, "the containers did not boot"
            time.sleep(1)
        yield work
    finally:
        for node in NODES:
            docker("rm", "-f", PREFIX + node, check=False)
        if created:
            docker("network", "rm", NETWORK, check=False)  # stays while another run uses it


def _playbook(lab: Path, playbook: Path, *extra: str) -> tuple[str, float]:
    """Run a playbook against the lab; its output goes to <lab>/<playbook>.out too."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
               ANSIBLE_STRATEGY_PLUGINS=str(SHARED / "strategy_plugins"),
               ANSIBLE_STRATEGY=os.environ.get("LVS_DR_STRATEGY", "mitogen_linear"),
               ANSIBLE_DEPRECATION_WARNINGS="false", ANSIBLE_TIMEOUT="120", ANSIBLE_NOCOLOR="1")
    argv = [str(Path(sys.executable).with_name("ansible-playbook")), str(playbook),
            "-i", str(lab / "hosts.yml"), "-e", f"@{lab / 'vars.yml'}"]
    for value in extra:
        argv += ["-e", value]
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600, check=False)
    kept = lab / f"{playbook.stem}.out"
    kept.write_text(proc.stdout + proc.stderr)
    print(f"{playbook.name}: rc {proc.returncode} after {time.monotonic() - start:.0f} s, output in {kept}")
    per_step = re.search(r"TASK \[Per step[^\n]*\n(.*?)\nTASK \[", proc.stdout, re.S)
    if per_step:
        print(per_step.group(1))
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    return proc.stdout, time.monotonic() - start


def test_drain_return_and_reloads_lose_nothing_and_a_restart_is_measured(lab: Path) -> None:
    _output, converge = _playbook(lab, REPO / "site.yml")
    print(f"site.yml (keepalived mode) converged in {converge:.0f} s")
    nested = json.dumps({"keepalived_zero_loss_inventory": str(lab / "hosts.yml"),
                         "keepalived_zero_loss_args": ["-e", f"@{lab / 'vars.yml'}"]})
    output, seconds = _playbook(lab, SHARED / "keepalived_zero_loss.yml", nested)
    found = re.search(r'"msg": "(keepalived mode, drain with a held connection[^"]*)"', output)
    assert found, output[-4000:]
    print(f"keepalived_zero_loss.yml in {seconds:.0f} s: {found.group(1)}")
