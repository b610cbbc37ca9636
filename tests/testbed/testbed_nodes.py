"""What the opt-in test-bed tests share: the engine check, the docker CLI, and a systemd node container.

The tests in this folder import it by name (pytest puts the folder of a test module on ``sys.path``).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

IMAGE = os.environ.get("LVS_DR_NODE_IMAGE", "lvs-dr/node:debian12")

# pytestmark of every test-bed module: it runs only against an engine whose kernel has IPVS
needs_engine = pytest.mark.skipif(not os.environ.get("DOCKER_HOST") or shutil.which("docker") is None,
                                  reason="needs DOCKER_HOST of an engine with IPVS (source <(tools/labhost env))")


def docker(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *argv], capture_output=True, text=True, check=check, timeout=300)


def start_node(name: str, hostname: str, network: str, address: str) -> None:
    """A privileged container booting systemd, like the Molecule scenarios' nodes."""
    docker("run", "-d", "--name", name, "--hostname", hostname, "--network", network,
           "--ip", address, "--privileged", "--cgroupns", "host", "--stop-signal", "SIGRTMIN+3",
           "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
           "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", IMAGE, "/sbin/init")
