"""Fixtures of the role tests; the machinery is in roles_harness.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from roles_harness import (
    COLLECTIONS,
    DEB_VIP,
    FIREWALLD_RUNNING,
    INVENTORY,
    RECORDER,
    REPO,
    Run,
    ensure_collection_link,
    lab_hosts,
    netns_unavailable,
)


@pytest.fixture(scope="session")
def run_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Run]]:
    """run_site(hosts, *extra_vars, check=True, inventory=None, playbook="site.yml") -> Run; identical runs are
    made once per session.

    ``inventory``: the text of an INI inventory to use instead of inventories/lab; ``playbook``: another playbook
    of the repository to run instead of site.yml.
    """
    ensure_collection_link()
    cache: dict[str, Run] = {}

    def _run(hosts: dict[str, Any], *extra_vars: str, check: bool = True, inventory: str | None = None,
             playbook: str = "site.yml") -> Run:
        key = json.dumps([hosts, extra_vars, check, inventory, playbook], sort_keys=True)
        if key in cache:
            return cache[key]
        work = tmp_path_factory.mktemp("site")
        (work / "hosts.json").write_text(json.dumps(hosts))
        log = work / "calls.jsonl"
        log.touch()
        inventory_path = INVENTORY
        if inventory is not None:
            inventory_path = work / "hosts.ini"
            inventory_path.write_text(inventory)
        env = dict(
            os.environ,
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_HOME=str(work / "home"),
            ANSIBLE_LOCAL_TEMP=str(work / "local-tmp"),
            ANSIBLE_REMOTE_TMP=str(work / "remote-tmp"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_RETRY_FILES_ENABLED="0",
        )
        argv = [sys.executable, str(RECORDER), str(work / "hosts.json"), str(log), str(REPO / playbook),
                "-i", str(inventory_path), "-e", "ansible_connection=local"]
        for extra in extra_vars:
            argv += ["-e", extra]
        if check:
            argv += ["--check", "--diff"]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=work, timeout=300, check=False)
        try:
            # ansible.builtin.pause (lvs.dr.verify) prints its own line before the callback's JSON
            output = json.loads(proc.stdout[proc.stdout.find("{"):])
        except ValueError as exc:
            raise AssertionError(f"ansible-playbook printed no JSON (rc={proc.returncode}):\n"
                                 f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        cache[key] = run = Run(proc.returncode, proc.stderr, output, calls)
        return run

    yield _run


@pytest.fixture(scope="session")
def el9(run_site: Callable[..., Run]) -> Run:
    """Default variables; firewalld installed and running, SELinux enforcing: what a fresh EL 9 host has."""
    return run_site(lab_hosts("el9", FIREWALLD_RUNNING))


@pytest.fixture(scope="session")
def deb(run_site: Callable[..., Run]) -> Run:
    """Default variables on Debian 12 (no firewalld, no SELinux); the real servers ask for permissive SELinux."""
    return run_site(lab_hosts("debian12"), f"director_vip={DEB_VIP}", f"realserver_vip={DEB_VIP}",
                    "realserver_selinux=permissive")


class Netns:
    """A throwaway network namespace; commands run inside it with ``ip netns exec``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def run(self, *argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["ip", "netns", "exec", self.name, *argv], capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(f"{argv} in {self.name}: rc={proc.returncode} {proc.stdout} {proc.stderr}")
        return proc

    def popen(self, *argv: str) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.name, *argv], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


@pytest.fixture
def netns() -> Iterator[Callable[[str], Netns]]:
    """netns(role) -> a new namespace with lo up; all of them are deleted afterwards."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    made: list[str] = []

    def _make(role: str) -> Netns:
        name = f"lvsdr-rt-{role}-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        made.append(name)
        ns = Netns(name)
        ns.run("ip", "link", "set", "lo", "up")
        return ns

    yield _make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False)
