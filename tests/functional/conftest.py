"""Functional tests: the real module code against a real kernel, inside a throwaway network namespace.

Each test gets a fresh namespace ``lvsdr-ft-<random>`` with ``lo`` up and a
veth pair ``eth0``/``eth1``; modules run as ``ip netns exec NS python
<module file> <args JSON>``, so ``ip`` and ``/proc/sys/net`` are the
namespace's.  Nothing outside the namespace is touched.  Tests that need a
neighbour on the link add the ``peer`` fixture: a second namespace holding
``eth1``; packets then only travel between the two namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from module_file import run_module_file

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".cache" / "collections"


def _ensure_collection_link() -> None:
    link = COLLECTIONS / "ansible_collections" / "lvs" / "dr"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO, link)


_ensure_collection_link()
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


def _netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "functional tests need root (they create network namespaces)"
    if shutil.which("ip") is None:
        return "iproute2 'ip' is not installed"
    probe = f"lvsdr-ft-probe-{uuid.uuid4().hex[:8]}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True, check=False).returncode != 0:
        return "network namespaces are not available here"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


class Netns:
    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, *argv: str, check: bool = True) -> str:
        """Run a command inside the namespace and return its stdout."""
        proc = subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} failed: {proc.stderr}")
        return proc.stdout

    def ip_json(self, *argv: str) -> Any:
        return json.loads(self.sh("ip", "-j", *argv) or "[]")

    def addresses(self, device: str) -> list[tuple[str, int, str | None]]:
        """(address, prefix, label) of global addresses on ``device``."""
        return [
            (info["local"], info["prefixlen"], info.get("label"))
            for link in self.ip_json("addr", "show", "dev", device)
            for info in link.get("addr_info", [])
            if info.get("scope") == "global"
        ]

    def host_routes(self, family: str = "-4") -> list[str]:
        return [
            f"{r['dst']} dev {r.get('dev')}"
            for r in self.ip_json(family, "route", "show", "table", "main")
            if r.get("protocol") != "kernel" and "/" not in r["dst"]
        ]

    def sysctl(self, scope: str, key: str) -> int:
        return int(self.sh("cat", f"/proc/sys/net/ipv4/conf/{scope}/{key}").strip())

    def run_module(self, name: str, args: dict[str, Any], check: bool = False, diff: bool = True) -> dict[str, Any]:
        return run_module_file(name, args, check, diff, prefix=["ip", "netns", "exec", self.name])


@contextlib.contextmanager
def _namespace(device: str, address: str, before: Callable[[str], None] = lambda _name: None) -> Iterator[Netns]:
    """A throwaway namespace ``lvsdr-ft-<random>`` with ``lo`` and ``device`` up, ``address`` on ``device``;
    ``before(name)`` runs once the namespace exists (to create ``device`` or move it in)."""
    name = f"lvsdr-ft-{uuid.uuid4().hex[:10]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ns = Netns(name)
        before(name)
        ns.sh("ip", "link", "set", "lo", "up")
        ns.sh("ip", "link", "set", device, "up")
        ns.sh("ip", "addr", "add", address, "dev", device)
        yield ns
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.fixture
def netns() -> Iterator[Netns]:
    reason = _netns_unavailable()
    if reason:
        pytest.skip(reason)

    def veth(name: str) -> None:
        Netns(name).sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")

    with _namespace("eth0", "198.51.100.10/24", veth) as ns:
        yield ns


@pytest.fixture
def peer(netns: Netns) -> Iterator[Netns]:
    """A second namespace on the other end of the veth pair: ``eth1`` up with 198.51.100.20/24, ``lo`` up."""
    def move_eth1(name: str) -> None:
        netns.sh("ip", "link", "set", "eth1", "netns", name)

    with _namespace("eth1", "198.51.100.20/24", move_eth1) as ns:
        yield ns


@pytest.fixture
def converge(netns: Netns) -> Callable[..., dict[str, Any]]:
    """check mode (nothing changes, exact prediction) -> real run -> second run unchanged."""

    def _converge(module: str, args: dict[str, Any], snapshot: Callable[[], Any]) -> dict[str, Any]:
        before = snapshot()
        predicted = netns.run_module(module, args, check=True)
        assert not predicted.get("failed"), predicted
        assert snapshot() == before, "check mode changed the namespace"
        result = netns.run_module(module, args)
        assert not result.get("failed"), result
        for key, value in result.items():
            if key not in ("warnings",):
                assert predicted.get(key) == value, f"check mode predicted {key}={predicted.get(key)!r}, got {value!r}"
        again = netns.run_module(module, args)
        assert again["changed"] is False, again
        return result

    return _converge
