#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark ``lvs.dr.ipvs_service`` against the guide's one-``ipvsadm``-call-per-rule way.

Usage (from the repository root)::

    source <(tools/labhost env)        # any Docker engine whose kernel has IPVS; a local one is fine too
    benchmarks/ipvs_service.py [--sizes 1000,10000] [--keep] [--reuse]

What it does, for every N in ``--sizes`` (N virtual services x 3 real servers):

* creates one privileged container ``lvs-dr-bench`` (``LVS_DR_BENCH_CONTAINER`` names it otherwise; image
  ``lvs-dr/node:debian12``, ``sleep infinity``)
  on whatever engine the environment points at (``DOCKER_HOST`` ...), installs ipvsadm in it once, and
  removes it at the end, also on failure or Ctrl-C (unless ``--keep``). The container is its own network
  namespace, so its IPVS table is its own: ``ipvsadm -C`` in it touches nothing else. Addresses are from
  198.18.0.0/15 (benchmarking range); no packet is sent, only kernel table entries are made;
* baseline, the guide's way: a shell script of separate ``ipvsadm -A`` / ``ipvsadm -a`` processes, one
  per rule, timed inside the container (``date +%s.%N``) from an empty table ("from empty") and as the
  guide re-applies it ("guide re-run": ``ipvsadm -C`` then every rule again);
* the module: one ``lvs.dr.ipvs_service`` task with a ``services:`` list (vars file in JSON), run by
  ``ansible-playbook`` over ``community.docker.docker`` with pipelining, from an empty table, as a no-op
  re-run and with one weight changed (from empty and the no-op: the median of three; the other cases once).
  "From empty" is a network namespace that never held a table: before each from-empty run (the module's, the
  per-rule baseline's, the one ``ipvsadm -R`` batch's) the table is flushed and the container restarted, which
  gives it a new namespace. A flush alone leaves the deleted real servers in the kernel's trash list for minutes,
  and every add scans it; three more from-empty playbooks right after ``ipvsadm -C`` (the median) measure that
  case (``_after_clear`` keys). Three times per case: the ``ansible-playbook`` wall time, the task's
  own duration (``ansible.posix.json`` callback), and the module alone ("pure": the AnsiballZ payload
  kept from an extra run and executed in the container, timed there, so no Ansible controller overhead);
* the parts, to tell the module's own cost from what any design pays: the floor (``ansible.builtin.ping``
  as a playbook and pure, median of three each: what every module run costs before doing anything), one
  ``ipvsadm -Sn`` of the full table (the read any reconciler needs; twice, the mean is used), the two
  ``ipvsadm -Ln`` reads the module used before, and the whole table as one ``ipvsadm -R`` batch from empty;
* above ``--full-max`` services (default 1000) the per-rule baseline is **extrapolated**: the table of the
  first N - 250 services is loaded with one ``ipvsadm -R``, the last 250 services are added the guide's way
  (1000 ``ipvsadm`` processes, timed), and that per-call cost times 4 N is the baseline. Output and JSON
  say so (``baseline_extrapolated``);
* the module's peak RSS: the pure runs go through a small Python wrapper in the container that reads
  ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` (the largest of the module's process and its ipvsadm
  children) after the payload exits;
* the list passed two ways, both reported with their own keys: as users' variables (``-e @file``, the keys
  the issue names) and read by the task itself (``lookup('ansible.builtin.file') | from_json``, ``_lookup``
  keys: ansible-core 2.19 tags and copies a 10,000-entry variable at load time, the lookup skips most of it);
* a second floor beside ``ansible.builtin.ping``: ``bench_list_floor`` (LIST_FLOOR_MODULE below), a module with
  ipvs_service's argument spec that takes the same list and exits: what any module consuming the list pays
  (controller vars handling, transfer, AnsibleModule), both ways and pure. ``list_floor_over_read_N`` is that
  floor above the ping floor in units of one ``ipvsadm -Sn`` (a bound under ``noop_over_read_N``), and
  ``noop_over_list_floor_N`` the module's own share;
* ``--noop-only`` (for a loaded engine): the table built by one ``ipvsadm -R``, then only the no-op both ways,
  the floors and ``ipvsadm -Sn`` (pure runs: median of three); written to ``results/ipvs_service_noop.json``;
  results are written after each size, so a run cut short keeps the sizes it finished;
* bad input: the list with ``services[0.7342 N].real_servers[1].weight`` out of range, as a playbook
  (must fail naming that parameter) and pure with an ``ipvsadm`` shim in place of /usr/sbin/ipvsadm that
  records any call (must not run, and the table must be as it was: the module writes over netlink, which the
  shim cannot see; a call through the shim must be seen); compared with validation alone
  (``validate_request`` on the good list, timed in the container inside one Python process, from the
  payload's own module_utils).

Prints a Markdown table, the floor and parts, and the issue-13 goals: from-empty playbook >= 20x (N=1000)
and >= 30x (N=10000) the per-rule baseline, no-op above the floor <= 1.3x one ``ipvsadm -Sn`` of the same
table, the time above the floor growing at most 12x from 1000 to 10000, peak RSS at 10000. They are reported,
not asserted, and written to ``benchmarks/results/ipvs_service.json`` (with the date and commit).
Needs ``ansible-playbook`` (the project venv's is preferred) and the ``docker`` CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from ipaddress import IPv4Address
from pathlib import Path
from types import FrameType
from typing import Any, Optional

ROOT = Path(__file__).resolve().parent.parent
# the bench container (and inventory host); another name lets two runs share an engine
NAME = os.environ.get("LVS_DR_BENCH_CONTAINER", "lvs-dr-bench")
IMAGE = "lvs-dr/node:debian12"
VIP_BASE = IPv4Address("198.18.0.0")
RIP_BASE = IPv4Address("198.19.0.0")
SERVERS_PER_SERVICE = 3
WORK = "/root/bench"
RESULTS = ROOT / "benchmarks" / "results" / "ipvs_service.json"
RESULTS_NOOP = ROOT / "benchmarks" / "results" / "ipvs_service_noop.json"
SAMPLE_SERVICES = 250  # services added the guide's way when the baseline is extrapolated
BAD_FRACTION = 0.7342  # where the bad entry sits in the bad-input list
OLD_NAMESPACE_MARK = "lvsdr-oldns"
FRESH_SETTLE_S = 5  # after fresh_table()'s restart: the old namespace's teardown runs in a kernel worker
GOALS = {"speedup_playbook_1000": 20.0, "speedup_playbook_10000": 30.0, "noop_over_read": 1.3, "growth": 12.0}

# Runs a payload as a child and prints "<seconds> <peak RSS KiB>" (ru_maxrss of the children: the largest of the
# module's process and the ipvsadm processes it waited for).
RUSAGE_WRAPPER = """\
import resource, subprocess, sys, time
start = time.monotonic()
rc = subprocess.run([sys.executable] + sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(rc, time.monotonic() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

# validate_request alone on the arguments a kept payload carries, from that payload's own module_utils
VALIDATE_ONLY = """\
import json, sys, time
sys.path.insert(0, sys.argv[1])
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import validate_request
with open(sys.argv[1] + "/args", encoding="utf-8") as handle:
    params = json.load(handle)["ANSIBLE_MODULE_ARGS"]
start = time.monotonic()
desired = validate_request(params)
print(time.monotonic() - start, len(desired))
"""

# in place of /usr/sbin/ipvsadm for the bad-input check (the module looks in the sbin directories before PATH):
# records that ipvsadm was called, then calls it
IPVSADM = "/usr/sbin/ipvsadm"
IPVSADM_SHIM = f"""\
#!/bin/sh
echo "$@" >> {WORK}/ipvsadm-called
exec {IPVSADM}.real "$@"
"""

# The two ways a playbook can hand the module its list. "extra vars": the list is a variable loaded from a file
# (-e @file here; vars_files and inventory variables cost the same), which ansible-core 2.19 tags and copies as it
# loads and templates it: seconds per 10,000 entries on the controller. "lookup": the task reads the JSON file
# itself when it is templated (lookup('ansible.builtin.file') | from_json), which skips most of that.
WAYS = ("extra_vars", "lookup")
SERVICES_EXPRESSION = {
    "extra_vars": "{{ bench_services }}",
    "lookup": "{{ lookup('ansible.builtin.file', bench_list_file) | from_json }}",
}


def playbook(module: str, way: str) -> str:
    return f"""\
- name: ipvs_service benchmark
  hosts: all
  gather_facts: false
  tasks:
    - name: {module}
      {module}:
        services: "{SERVICES_EXPRESSION[way]}"
      register: bench_result
"""


# The second floor: what any module that takes the same list pays before it does anything with it. It is
# ipvs_service's main() with the work left out: the same argument spec and AnsibleModule options, from the same
# module_utils functions the module calls (service_module_spec, service_module_constraints; so the same
# parsing, type checks and copies of the arguments), the cyclic GC off and the same abridged invocation, then
# exit_json. Run the same ways as the module (playbook, either way of passing the list, and pure), it tells the
# controller's and AnsibleModule's share of a run from the module's own.
LIST_FLOOR_MODULE = """\
#!/usr/bin/python
from __future__ import annotations

import gc

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    service_module_constraints,
    service_module_spec,
)


def main():
    gc.disable()
    module = AnsibleModule(argument_spec=service_module_spec(), **service_module_constraints())
    services = module.params["services"] or []
    module.exit_json(changed=False, entries=len(services), invocation={
        "module_args": {**module.params, "services": "(%d entries, not echoed back)" % len(services)}})


if __name__ == "__main__":
    main()
"""
LIST_FLOOR = "bench_list_floor"

# The floor every module run pays whatever it does: the same connection, Python start-up, AnsiballZ unpacking
# and the import of ansible.module_utils.basic, measured with the smallest module there is.
FLOOR_PLAYBOOK = """\
- name: floor
  hosts: all
  gather_facts: false
  tasks:
    - name: ping
      ansible.builtin.ping:
"""


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------- docker


def docker(*args: str, stdin: Optional[str] = None, check: bool = True) -> str:
    proc = subprocess.run(
        ["docker", *args], input=stdin, capture_output=True, text=True, check=False
    )
    if check and proc.returncode != 0:
        raise BenchError(f"docker {' '.join(args[:3])} ... failed (rc={proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def sh(script: str, stdin: Optional[str] = None, check: bool = True) -> str:
    """Run a POSIX shell script in the bench container (one ``docker exec``)."""
    return docker("exec", "-i", NAME, "sh", "-c", script, stdin=stdin, check=check)


def timed_in_container(command: str) -> float:
    """Seconds ``command`` took, measured inside the container (no docker exec overhead)."""
    out = sh(f's=$(date +%s.%N); {command} >/dev/null; rc=$?; e=$(date +%s.%N); echo "$rc $s $e"')
    rc, start, end = out.split()[-3:]
    if rc != "0":
        raise BenchError(f"in container: {command!r} exited {rc}")
    return float(end) - float(start)


def put_file(path: str, content: str) -> None:
    sh(f"mkdir -p {WORK} && cat > {path}", stdin=content)


def container_exists() -> bool:
    return bool(docker("ps", "-a", "--filter", f"name=^{NAME}$", "--format", "{{.Names}}").strip())


def create_container(image: str) -> None:
    docker("run", "-d", "--privileged", "--name", NAME, "--label", "lvs-dr.role=benchmark",
           "--entrypoint", "sleep", image, "infinity")


def install_ipvsadm() -> None:
    if sh("command -v ipvsadm || true").strip():
        return
    print("installing ipvsadm in the bench container (apt-get update + install) ...", flush=True)
    sh("export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq ipvsadm")
    sh("ipvsadm -Ln")  # loads ip_vs on the engine's kernel, fails early without IPVS


def fresh_table() -> None:
    """An empty IPVS table in a network namespace that never held one, as on a director just provisioned.

    ``ipvsadm -C`` alone empties the table but not the kernel's state: every deleted real server stays in the
    namespace's trash list for two to four minutes, and each ``ip_vs_add_dest`` scans that list before it
    allocates (30,000 entries after a 10,000 x 3 table: seconds of a from-empty run, whatever writes the
    rules). Docker gives a restarted container a new network namespace; the table is flushed first so the
    old namespace's teardown only frees the trash (the settle below lets it finish before anything is timed).
    The from-empty figure right after ``ipvsadm -C`` is measured too (``from_empty_after_clear``). A dummy link
    made before the restart tells the namespaces apart (the kernel reuses the old one's inode number).
    """
    sh(f"ipvsadm -C && ip link add {OLD_NAMESPACE_MARK} type dummy")
    docker("restart", "-t", "0", NAME)
    check("the restarted bench container has a new network namespace",
          not sh(f"ip -o link show {OLD_NAMESPACE_MARK} 2>/dev/null || true").strip())
    check("the new network namespace's IPVS table is empty", count_table() == (0, 0))
    time.sleep(FRESH_SETTLE_S)


def remove_container() -> None:
    docker("rm", "-f", NAME, check=False)


def count_table() -> tuple[int, int]:
    out = sh("ipvsadm -Ln")
    services = sum(1 for line in out.splitlines() if line.startswith(("TCP", "UDP", "SCTP", "FWM")))
    servers = sum(1 for line in out.splitlines() if line.strip().startswith("->") and "RemoteAddress" not in line)
    return services, servers


# --------------------------------------------------------------------------- workload


def services(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append({
            "address": str(VIP_BASE + 1 + i),
            "port": 80,
            "scheduler": "rr",
            "real_servers": [
                {"address": str(RIP_BASE + 1 + SERVERS_PER_SERVICE * i + j), "weight": 1}
                for j in range(SERVERS_PER_SERVICE)
            ],
        })
    return out


def one_change(svcs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    changed = json.loads(json.dumps(svcs))
    changed[len(changed) // 2]["real_servers"][0]["weight"] = 2
    return changed


def bad_input(svcs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The list with one weight out of range, and the parameter the module must name."""
    bad = json.loads(json.dumps(svcs))
    index = int(len(bad) * BAD_FRACTION)
    bad[index]["real_servers"][1]["weight"] = 70000
    return bad, f"services[{index}].real_servers[1].weight"


def guide_script(svcs: list[dict[str, Any]]) -> str:
    """One ipvsadm process per rule, as the guide does it."""
    lines = ["set -e"]
    for svc in svcs:
        vip = f"{svc['address']}:{svc['port']}"
        lines.append(f"ipvsadm -A -t {vip} -s {svc['scheduler']}")
        for rs in svc["real_servers"]:
            lines.append(f"ipvsadm -a -t {vip} -r {rs['address']}:{svc['port']} -g -w {rs['weight']}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- ansible


@dataclass
class Run:
    wall: float
    task: float
    changed: bool
    commands: int
    failed: bool = False
    msg: str = ""
    parameter: str = ""


@dataclass
class Ansible:
    playbook_bin: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, svcs: list[dict[str, Any]], keep_remote: bool = False, playbook: str = "bench.yml",
            expect_failure: bool = False, way: str = "extra_vars") -> Run:
        """One ansible-playbook run; ``way``: the list as a variable from ``-e @file``, or read by a lookup."""
        env = dict(self.env)
        if keep_remote:  # the payload must be a file on the node to be kept: no pipelining for this run
            env.update(ANSIBLE_KEEP_REMOTE_FILES="1", ANSIBLE_PIPELINING="0")
        if way == "lookup":
            list_file = self.tmp / "list.json"
            list_file.write_text(json.dumps(svcs), encoding="utf-8")
            given = ["-e", f"bench_list_file={list_file}"]
            playbook = playbook.replace(".yml", "_lookup.yml")
        else:
            vars_file = self.tmp / "vars.json"
            vars_file.write_text(json.dumps({"bench_services": svcs}), encoding="utf-8")
            given = ["-e", f"@{vars_file}"]
        cmd = [self.playbook_bin, "-i", f"{NAME},", "-c", "community.docker.docker",
               "-e", "ansible_python_interpreter=/usr/bin/python3", *given, str(self.tmp / playbook)]
        start = time.monotonic()
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        wall = time.monotonic() - start
        try:
            report = json.loads(proc.stdout)
            task = report["plays"][0]["tasks"][0]
            result = task["hosts"][NAME]
        except (ValueError, KeyError, IndexError) as exc:
            raise BenchError(f"ansible-playbook rc={proc.returncode}, unreadable output ({exc}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}") from exc
        failed = proc.returncode != 0 or bool(result.get("failed"))
        if failed != expect_failure:
            raise BenchError(f"the module {'failed' if failed else 'did not fail'}: {result.get('msg')}\n"
                             f"{proc.stderr[-2000:]}")
        duration = task["task"]["duration"]
        seconds = (_when(duration["end"]) - _when(duration["start"])).total_seconds()
        # as it goes: a long run stopped before its size ends still leaves its figures in the log
        print(f"  {playbook} ({way}{', kept' if keep_remote else ''}): {wall:.2f} s", flush=True)
        return Run(wall, seconds, bool(result.get("changed")), len(result.get("commands", [])), failed,
                   str(result.get("msg", "")), str(result.get("parameter", "")))


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.rstrip("Z"))


def find_playbook_bin() -> str:
    venv = ROOT / ".venv" / "bin" / "ansible-playbook"
    if venv.exists():
        return str(venv)
    found = shutil.which("ansible-playbook")
    if not found:
        raise BenchError("ansible-playbook not found (make the project venv or put it on PATH)")
    return found


def ansible_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)  # keep stdout pure JSON
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".cache" / "collections"))
    env.update(
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PIPELINING="1",
        ANSIBLE_HOST_KEY_CHECKING="0",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_NOCOLOR="1",
    )
    return env


# --------------------------------------------------------------------------- measurement


def capture_payload(name: str, module: str = "ipvs_service") -> str:
    """Move the newest kept AnsiballZ payload to WORK/<name>.py; return its path."""
    path = f"{WORK}/{name}.py"
    sh(f"mkdir -p {WORK}; f=$(ls -t ~/.ansible/tmp/ansible-tmp-*/AnsiballZ_{module}.py | head -n 1); "
       f'mv "$f" {path}; rm -rf ~/.ansible/tmp/ansible-tmp-*')
    return path


@dataclass
class Row:
    n: int
    base_empty: float = 0.0
    base_rerun: Optional[float] = None
    empty: Optional[Run] = None
    noop: Optional[Run] = None
    change: Optional[Run] = None
    pure_empty: float = 0.0
    pure_noop: float = 0.0
    pure_change: float = 0.0
    floor: Optional[Run] = None  # ansible.builtin.ping: what any module run costs
    pure_floor: float = 0.0
    reads: float = 0.0  # ipvsadm -Ln plus -Ln --thresholds on the full table: what the module read before
    save: float = 0.0  # one ipvsadm -Sn of the full table (mean of two): the read any reconciler needs
    batch: float = 0.0  # the whole table as one ipvsadm -R from empty: the apply alone
    load: str = ""  # the engine's 1-minute load average before / after: other users skew the timings
    extrapolated: bool = False  # base_empty = per_call x rules, per_call measured on a sample
    per_call: float = 0.0  # seconds per ipvsadm process in the baseline
    rss_kib: int = 0  # peak RSS of the pure from-empty and no-op runs (the larger)
    bad: Optional[Run] = None  # the playbook with one bad entry
    bad_parameter: str = ""  # what it had to name
    pure_bad: float = 0.0
    validation: float = 0.0  # validate_request alone on the good list
    # the list passed by lookup('ansible.builtin.file') | from_json instead of -e @file
    lookup_empty: Optional[Run] = None
    lookup_noop: Optional[Run] = None
    # the second floor (LIST_FLOOR_MODULE: the same list and argument spec, no work), each way, and pure
    list_floor: Optional[Run] = None
    list_floor_lookup: Optional[Run] = None
    pure_list_floor: float = 0.0
    list_floor_rss_kib: int = 0
    empty_after_clear: Optional[Run] = None  # from empty right after ipvsadm -C (the kernel's trash still full)

    @property
    def rules(self) -> int:
        return self.n * (1 + SERVERS_PER_SERVICE)


def check(what: str, cond: bool) -> None:
    if not cond:
        raise BenchError(f"sanity check failed: {what}")


def batch_lines(script: str) -> str:
    return "".join(line[len("ipvsadm "):] + "\n" for line in script.splitlines() if line.startswith("ipvsadm "))


def measure_baseline(row: Row, svcs: list[dict[str, Any]], full_max: int, rerun_max: int) -> None:
    """Per rule from empty: all of it up to full_max services, else a timed sample on top of the rest."""
    n = row.n
    fresh_table()
    if n <= full_max:
        put_file(f"{WORK}/guide.sh", guide_script(svcs))
        row.base_empty = timed_in_container(f"sh {WORK}/guide.sh")
        row.per_call = row.base_empty / row.rules
        if n <= rerun_max:  # ipvsadm -C plus the same script: about from-empty again, costly at large N
            row.base_rerun = timed_in_container(f"ipvsadm -C && sh {WORK}/guide.sh")
        return
    sample = svcs[n - SAMPLE_SERVICES:]
    put_file(f"{WORK}/rest.txt", batch_lines(guide_script(svcs[:n - SAMPLE_SERVICES])))
    sh(f"ipvsadm -R < {WORK}/rest.txt")
    put_file(f"{WORK}/guide.sh", guide_script(sample))
    seconds = timed_in_container(f"sh {WORK}/guide.sh")
    row.per_call = seconds / (SAMPLE_SERVICES * (1 + SERVERS_PER_SERVICE))
    row.base_empty = row.per_call * row.rules
    row.extrapolated = True


def pure_run(payload: str) -> tuple[float, int, int]:
    """(seconds, peak RSS KiB, rc) of one payload run in the container, through the rusage wrapper."""
    out = sh(f"python3 {WORK}/rusage.py {payload}").split()
    print(f"  pure {payload.rsplit('/', 1)[-1]}: {float(out[-2]):.2f} s", flush=True)
    return float(out[-2]), int(out[-1]), int(out[-3])


def measure_bad_input(row: Row, ansible: Ansible, svcs: list[dict[str, Any]], payload: str) -> None:
    """One bad entry: fails naming it, before ipvsadm; compared with validation alone."""
    bad, parameter = bad_input(svcs)
    row.bad_parameter = parameter
    row.bad = ansible.run(bad, expect_failure=True)
    check(f"bad input names {parameter} (got {row.bad.parameter!r}: {row.bad.msg[:200]})",
          row.bad.parameter == parameter and parameter in row.bad.msg)
    ansible.run(bad, keep_remote=True, expect_failure=True)
    bad_payload = capture_payload("bad")
    table = sh(f"{IPVSADM} -Sn")
    sh(f"mv {IPVSADM} {IPVSADM}.real && cat > {IPVSADM} && chmod +x {IPVSADM}; rm -f {WORK}/ipvsadm-called",
       stdin=IPVSADM_SHIM)
    try:
        row.pure_bad, _rss, rc = pure_run(bad_payload)
        check("bad input failed", rc != 0)
        check("bad input ran no ipvsadm", not sh(f"cat {WORK}/ipvsadm-called 2>/dev/null || true").strip())
        # the module writes over netlink, which no shim sees: the table itself must be as it was (the bad
        # entry's weight, 70000, would be accepted by the kernel)
        check("bad input changed nothing in the table", sh(f"{IPVSADM}.real -Sn") == table)
        sh(f"{IPVSADM} -Sn > /dev/null")  # the shim works: a call through it is logged
        check("the ipvsadm shim logs a call", bool(sh(f"cat {WORK}/ipvsadm-called 2>/dev/null || true").strip()))
    finally:
        sh(f"mv {IPVSADM}.real {IPVSADM}")
    sh(f"rm -rf {WORK}/debug_dir; cd {WORK} && python3 {payload} explode >/dev/null")
    out = sh(f"python3 {WORK}/validate.py {WORK}/debug_dir").split()
    check("validation alone saw every service", int(out[1]) == row.n)
    row.validation = float(out[0])


def measure_ways(row: Row, ansible: Ansible, svcs: list[dict[str, Any]], expect: tuple[int, int]) -> None:
    """From-empty and no-op with the list read by a lookup; the list floor both ways and pure (median of 3)."""
    fresh_table()
    row.lookup_empty = ansible.run(svcs, way="lookup")
    check("module from empty (lookup) changed", row.lookup_empty.changed and count_table() == expect)
    row.lookup_noop = ansible.run(svcs, way="lookup")
    check("module re-run (lookup) is a no-op", not row.lookup_noop.changed)
    row.list_floor = ansible.run(svcs, playbook="list_floor.yml")
    row.list_floor_lookup = ansible.run(svcs, playbook="list_floor.yml", way="lookup")
    ansible.run(svcs, keep_remote=True, playbook="list_floor.yml")
    payload = capture_payload("list_floor", LIST_FLOOR)
    runs = sorted(pure_run(payload)[:2] for _ in range(3))
    row.pure_list_floor, row.list_floor_rss_kib = runs[1]


def measure_noop(n: int, ansible: Ansible) -> Row:
    """``--noop-only``: the table built by one ``ipvsadm -R``, then only the no-op, the floors and ``-Sn``.

    For a loaded engine where the full run (per-rule baseline, from-empty, bad input) does not fit: what the
    no-op goal needs, both ways of passing the list, in one run.
    """
    row = Row(n, load=loadavg())
    svcs = services(n)
    expect = (n, n * SERVERS_PER_SERVICE)
    put_file(f"{WORK}/rusage.py", RUSAGE_WRAPPER)
    put_file(f"{WORK}/batch.txt", batch_lines(guide_script(svcs)))
    fresh_table()
    row.batch = timed_in_container(f"ipvsadm -R < {WORK}/batch.txt")
    check("one batch built the table", count_table() == expect)
    row.save = (timed_in_container("ipvsadm -Sn") + timed_in_container("ipvsadm -Sn")) / 2
    floors = sorted((ansible.run([], playbook="floor.yml") for _ in range(3)), key=lambda run: run.wall)
    row.floor = floors[1]
    ansible.run([], keep_remote=True, playbook="floor.yml")
    row.pure_floor = sorted(pure_run(capture_payload("floor", "ping"))[0] for _ in range(3))[1]
    row.noop = ansible.run(svcs)
    check("module on the batch-built table is a no-op", not row.noop.changed)
    row.lookup_noop = ansible.run(svcs, way="lookup")
    check("module re-run (lookup) is a no-op", not row.lookup_noop.changed)
    row.list_floor = ansible.run(svcs, playbook="list_floor.yml")
    row.list_floor_lookup = ansible.run(svcs, playbook="list_floor.yml", way="lookup")
    ansible.run(svcs, keep_remote=True, playbook="list_floor.yml")
    payload = capture_payload("list_floor", LIST_FLOOR)
    row.pure_list_floor, row.list_floor_rss_kib = sorted(pure_run(payload)[:2] for _ in range(3))[1]
    ansible.run(svcs, keep_remote=True)
    payload = capture_payload("full")
    row.pure_noop, row.rss_kib = sorted(pure_run(payload)[:2] for _ in range(3))[1]
    check("payload no-op left the table as it was", count_table() == expect)
    sh("ipvsadm -C")
    row.load += f" / {loadavg()}"
    return row


def summarize_noop(rows: list[Row]) -> dict[str, Any]:
    """``--noop-only`` keys: the no-op goal both ways and pure, each floor, against ``ipvsadm -Sn``."""
    data: dict[str, Any] = {"mode": "noop-only: table built by one ipvsadm -R; no per-rule baseline, from-empty, "
                                    "one-change or bad-input runs"}
    for r in rows:
        assert r.floor and r.noop and r.lookup_noop and r.list_floor and r.list_floor_lookup
        n = r.n
        data[f"noop_over_read_{n}"] = round(ratio(r, "noop", "extra_vars"), 2)
        data[f"noop_over_read_lookup_{n}"] = round(ratio(r, "noop", "lookup"), 2)
        data[f"noop_over_read_pure_{n}"] = round(ratio(r, "noop", "pure"), 2)
        for way, suffix in (("extra_vars", ""), ("lookup", "_lookup"), ("pure", "_pure")):
            data[f"list_floor_over_read{suffix}_{n}"] = round(ratio(r, "list_floor", way), 2)
            data[f"noop_over_list_floor{suffix}_{n}"] = round(ratio(r, "noop_over_list_floor", way), 2)
        data[f"peak_rss_mib_noop_{n}"] = round(r.rss_kib / 1024, 1)
        data[f"peak_rss_mib_list_floor_{n}"] = round(r.list_floor_rss_kib / 1024, 1)
        data[f"detail_{n}"] = {
            "rules": r.rules,
            "playbook_s": {"floor": round(r.floor.wall, 2), "noop": round(r.noop.wall, 2),
                           "noop_lookup": round(r.lookup_noop.wall, 2), "list_floor": round(r.list_floor.wall, 2),
                           "list_floor_lookup": round(r.list_floor_lookup.wall, 2)},
            "pure_s": {"floor": round(r.pure_floor, 2), "noop": round(r.pure_noop, 2),
                       "list_floor": round(r.pure_list_floor, 2)},
            "ipvsadm_Sn_s": round(r.save, 2),
            "ipvsadm_R_batch_s": round(r.batch, 2),
            "engine_load_1min_before_after": r.load,
        }
    by_n = {r.n: r for r in rows}
    if 1000 in by_n and 10000 in by_n:
        low, high = by_n[1000], by_n[10000]
        data["growth_1000_to_10000_noop"] = round(above_floor(high, "noop") / above_floor(low, "noop"), 1)
        data["growth_1000_to_10000_pure_noop"] = round(above_floor(high, "pure_noop") / above_floor(low, "pure_noop"),
                                                       1)
    data["notes"] = {
        "noop_over_read": "(no-op playbook - ansible.builtin.ping playbook) / one ipvsadm -Sn of the same table; "
                          "_lookup: the list read by lookup('ansible.builtin.file') | from_json instead of -e @file; "
                          "_pure: the payloads run in the container",
        "list_floor_over_read": "(list floor - ansible.builtin.ping floor) / one ipvsadm -Sn: what any module "
                                "taking the same list (same argument spec, no work) pays above the ping floor",
        "noop_over_list_floor": "(no-op - list floor) / one ipvsadm -Sn: the module's own share of a no-op",
    }
    data["goals"] = GOALS
    return data


def measure(n: int, ansible: Ansible, rerun_max: int, full_max: int) -> Row:
    row = Row(n, load=loadavg())
    svcs = services(n)
    changed = one_change(svcs)
    expect = (n, n * SERVERS_PER_SERVICE)
    put_file(f"{WORK}/rusage.py", RUSAGE_WRAPPER)
    put_file(f"{WORK}/validate.py", VALIDATE_ONLY)
    put_file(f"{WORK}/batch.txt", batch_lines(guide_script(svcs)))

    measure_baseline(row, svcs, full_max, rerun_max)
    check("baseline built the table", count_table() == expect)

    row.reads = timed_in_container("ipvsadm -Ln >/dev/null && ipvsadm -Ln --thresholds >/dev/null")
    fresh_table()
    row.batch = timed_in_container(f"ipvsadm -R < {WORK}/batch.txt")
    check("one batch built the table", count_table() == expect)

    # the floor is small and everything is noisy on a shared engine: the median of three, both ways
    floors = sorted((ansible.run([], playbook="floor.yml") for _ in range(3)), key=lambda run: run.wall)
    row.floor = floors[1]
    ansible.run([], keep_remote=True, playbook="floor.yml")
    payload_floor = capture_payload("floor", "ping")
    row.pure_floor = sorted(pure_run(payload_floor)[0] for _ in range(3))[1]

    # the two measures, the median of three as well: each from-empty run in a fresh network namespace
    empties, noops = [], []
    for _ in range(3):
        fresh_table()
        empties.append(ansible.run(svcs))
        check("module from empty changed", empties[-1].changed and count_table() == expect)
        noops.append(ansible.run(svcs))
        check("module re-run is a no-op", not noops[-1].changed)
    row.empty = sorted(empties, key=lambda run: run.wall)[1]
    row.noop = sorted(noops, key=lambda run: run.wall)[1]
    row.change = ansible.run(changed)
    check("one change is one command", row.change.changed and row.change.commands == 1)
    # the same from empty right after ipvsadm -C of the full table, the kernel's real-server trash included
    # (each run revives its real servers from the trash, so every flush fills it again): the median of three
    after_clear = []
    for _ in range(3):
        sh("ipvsadm -C")
        after_clear.append(ansible.run(svcs))
        check("module from empty after a clear changed", after_clear[-1].changed and count_table() == expect)
    row.empty_after_clear = sorted(after_clear, key=lambda run: run.wall)[1]
    measure_ways(row, ansible, svcs, expect)

    # the module alone: keep the payloads of two extra runs, then execute them in the container
    ansible.run(svcs, keep_remote=True)  # one change back
    payload = capture_payload("full")
    ansible.run(changed, keep_remote=True)
    payload_changed = capture_payload("changed")
    fresh_table()
    row.pure_empty, rss_empty, _rc = pure_run(payload)
    check("payload built the table", count_table() == expect)
    save_before = timed_in_container("ipvsadm -Sn")
    row.pure_noop, rss_noop, _rc = pure_run(payload)
    row.save = (save_before + timed_in_container("ipvsadm -Sn")) / 2
    row.rss_kib = max(rss_empty, rss_noop)
    row.pure_change = pure_run(payload_changed)[0]
    measure_bad_input(row, ansible, svcs, payload)
    sh("ipvsadm -C")
    row.load += f" / {loadavg()}"
    return row


def loadavg() -> str:
    return sh("cat /proc/loadavg").split()[0]


# --------------------------------------------------------------------------- report


def report(rows: list[Row]) -> str:
    out = [
        "| N | rules | baseline from-empty s | guide re-run s | module from-empty s: playbook / task / pure "
        "| speed-up (x): playbook / pure | module no-op s: playbook / task / pure | no-op / from-empty % "
        "(playbook / pure) | one-change s: playbook / task / pure | engine load before / after |",
        "|---:|---:|---:|---:|---|---|---|---|---|---|",
    ]
    for r in rows:
        assert r.empty and r.noop and r.change
        out.append(
            f"| {r.n} | {r.n * (1 + SERVERS_PER_SERVICE)} | {r.base_empty:.2f} "
            f"| {'n/m' if r.base_rerun is None else f'{r.base_rerun:.2f}'} "
            f"| {r.empty.wall:.2f} / {r.empty.task:.2f} / {r.pure_empty:.2f} "
            f"| {r.base_empty / r.empty.wall:.1f} / {r.base_empty / r.pure_empty:.1f} "
            f"| {r.noop.wall:.2f} / {r.noop.task:.2f} / {r.pure_noop:.2f} "
            f"| {100 * r.noop.wall / r.empty.wall:.0f} / {100 * r.pure_noop / r.pure_empty:.0f} "
            f"| {r.change.wall:.2f} / {r.change.task:.2f} / {r.pure_change:.2f} | {r.load} |"
        )
    out += ["", "Floor and parts, seconds: `ansible.builtin.ping` (playbook / pure), the two `ipvsadm -Ln` reads of "
            "the full table, the whole table as one `ipvsadm -R` from empty; then no-op / from-empty with the floor "
            "subtracted from both (playbook / pure):", ""]
    for r in rows:
        assert r.empty and r.noop and r.floor
        above_wall = 100 * (r.noop.wall - r.floor.wall) / max(r.empty.wall - r.floor.wall, 1e-9)
        above_pure = 100 * (r.pure_noop - r.pure_floor) / max(r.pure_empty - r.pure_floor, 1e-9)
        out.append(f"- N={r.n}: floor {r.floor.wall:.2f} / {r.pure_floor:.2f}; reads {r.reads:.2f}; "
                   f"one batch {r.batch:.2f}; no-op above the floor {above_wall:.0f} % / {above_pure:.0f} % "
                   f"of from-empty above the floor")
    out += ["", "Per-rule baseline, one `ipvsadm -Sn` of the full table, peak RSS of the module (pure runs), bad "
            "input (one bad entry; playbook / pure) against validation alone:", ""]
    for r in rows:
        assert r.bad
        how = (f"extrapolated: {SAMPLE_SERVICES} services added one ipvsadm per rule on top of the other "
               f"{r.n - SAMPLE_SERVICES}" if r.extrapolated else "measured in full")
        out.append(f"- N={r.n}: baseline {r.base_empty:.1f} s ({how}; {1000 * r.per_call:.1f} ms per ipvsadm call); "
                   f"`ipvsadm -Sn` {r.save:.2f} s; peak RSS {r.rss_kib / 1024:.1f} MiB; bad input fails naming "
                   f"`{r.bad.parameter}` in {r.bad.wall:.2f} / {r.pure_bad:.2f} s, no ipvsadm run; validation "
                   f"alone {r.validation:.2f} s (pure floor {r.pure_floor:.2f} s)")
    out += ["", "Linearity, milliseconds per service (from-empty; pure module, playbook, baseline):", ""]
    for r in rows:
        assert r.empty
        after_clear = (f", playbook right after ipvsadm -C {1000 * r.empty_after_clear.wall / r.n:.1f} ms"
                       if r.empty_after_clear else "")
        out.append(f"- N={r.n}: module {1000 * r.pure_empty / r.n:.1f} ms, playbook {1000 * r.empty.wall / r.n:.1f} "
                   f"ms{after_clear}, baseline {1000 * r.base_empty / r.n:.1f} ms")
    return "\n".join([*out, "", report_floors(rows)])


def _seconds(run: Optional[Run]) -> str:
    return "n/m" if run is None else f"{run.wall:.2f}"


def report_floors(rows: list[Row]) -> str:
    """The two floors, both ways of passing the list, and the no-op above each against ``ipvsadm -Sn``."""
    out = ["The two floors and the two ways of passing the list, seconds (playbook: `-e @file` / lookup; pure: "
            "the kept payload in the container). Ping floor: `ansible.builtin.ping`, no list. List floor: a module "
            "with ipvs_service's argument spec that takes the same list and exits (controller vars handling, "
            "transfer, AnsibleModule). Then no-op above each floor / one `ipvsadm -Sn`:", "",
            "| N | ping floor: playbook / pure | list floor: -e / lookup / pure (peak RSS MiB) | from-empty: -e / "
            "lookup | no-op: -e / lookup / pure | `ipvsadm -Sn` | list floor above ping floor / -Sn: -e / lookup "
            "/ pure | no-op above list floor / -Sn: -e / lookup / pure |",
            "|---:|---|---|---|---|---:|---|---|"]
    for r in rows:
        assert r.floor and r.noop and r.list_floor and r.list_floor_lookup and r.lookup_noop
        out.append(
            f"| {r.n} | {r.floor.wall:.2f} / {r.pure_floor:.2f} "
            f"| {r.list_floor.wall:.2f} / {r.list_floor_lookup.wall:.2f} / {r.pure_list_floor:.2f} "
            f"({r.list_floor_rss_kib / 1024:.1f}) | {_seconds(r.empty)} / {_seconds(r.lookup_empty)} "
            f"| {r.noop.wall:.2f} / {r.lookup_noop.wall:.2f} / {r.pure_noop:.2f} | {r.save:.2f} "
            f"| {ratio(r, 'list_floor', 'extra_vars'):.2f} / {ratio(r, 'list_floor', 'lookup'):.2f} / "
            f"{ratio(r, 'list_floor', 'pure'):.2f} "
            f"| {ratio(r, 'noop_over_list_floor', 'extra_vars'):.2f} / {ratio(r, 'noop_over_list_floor', 'lookup'):.2f}"
            f" / {ratio(r, 'noop_over_list_floor', 'pure'):.2f} |")
    return "\n".join(out)


def ratio(r: Row, what: str, way: str) -> float:
    """Seconds over one ``ipvsadm -Sn`` of the same table, for the issue-13 style keys.

    ``noop``: the no-op above the ping floor; ``list_floor``: the list floor above the ping floor (what any
    module taking the list pays before it does anything); ``noop_over_list_floor``: the no-op above the list
    floor (the module's own share). ``way``: extra_vars (-e @file), lookup, or pure (payloads in the container).
    """
    assert r.floor and r.noop and r.list_floor and r.list_floor_lookup and r.lookup_noop
    noop = {"extra_vars": r.noop.wall, "lookup": r.lookup_noop.wall, "pure": r.pure_noop}[way]
    list_floor = {"extra_vars": r.list_floor.wall, "lookup": r.list_floor_lookup.wall, "pure": r.pure_list_floor}[way]
    floor = r.pure_floor if way == "pure" else r.floor.wall
    above = {"noop": noop - floor, "list_floor": list_floor - floor, "noop_over_list_floor": noop - list_floor}[what]
    return above / r.save


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=False).stdout.strip()


def above_floor(r: Row, which: str) -> float:
    """Seconds above the floor of a playbook run (empty, noop) or of the pure run."""
    assert r.floor and r.noop
    if which == "empty":
        assert r.empty
        return r.empty.wall - r.floor.wall
    if which == "noop":
        return r.noop.wall - r.floor.wall
    if which == "empty_after_clear":
        assert r.empty_after_clear
        return r.empty_after_clear.wall - r.floor.wall
    if which == "lookup_empty":
        assert r.lookup_empty
        return r.lookup_empty.wall - r.floor.wall
    if which == "pure_empty":
        return r.pure_empty - r.pure_floor
    return r.pure_noop - r.pure_floor


def summarize(rows: list[Row]) -> dict[str, Any]:
    """The issue-13 keys (for each N measured) plus the details they come from."""
    data: dict[str, Any] = {}
    by_n = {r.n: r for r in rows}
    for r in rows:
        assert r.empty and r.noop and r.floor and r.bad
        n = r.n
        data[f"speedup_playbook_{n}"] = round(r.base_empty / r.empty.wall, 1)
        if r.empty_after_clear:
            data[f"speedup_playbook_after_clear_{n}"] = round(r.base_empty / r.empty_after_clear.wall, 1)
        data[f"speedup_pure_{n}"] = round(r.base_empty / r.pure_empty, 1)
        data[f"noop_over_read_{n}"] = round(above_floor(r, "noop") / r.save, 2)
        data[f"noop_over_read_pure_{n}"] = round(above_floor(r, "pure_noop") / r.save, 2)
        data[f"peak_rss_mib_{n}"] = round(r.rss_kib / 1024, 1)
        data[f"detail_{n}"] = {
            "rules": r.rules,
            "baseline_s": round(r.base_empty, 1),
            "baseline_extrapolated": r.extrapolated,
            "baseline_note": (f"per-call cost measured on {SAMPLE_SERVICES} services added one ipvsadm per rule "
                              f"on top of the other {n - SAMPLE_SERVICES}, times {r.rules} rules"
                              if r.extrapolated else "measured in full"),
            "baseline_s_per_call": round(r.per_call, 4),
            "playbook_s": {"from_empty": round(r.empty.wall, 2), "noop": round(r.noop.wall, 2),
                           "one_change": round(r.change.wall, 2) if r.change else None,
                           "from_empty_after_clear": round(r.empty_after_clear.wall, 2) if r.empty_after_clear
                           else None,
                           "floor": round(r.floor.wall, 2)},
            "pure_s": {"from_empty": round(r.pure_empty, 2), "noop": round(r.pure_noop, 2),
                       "one_change": round(r.pure_change, 2), "floor": round(r.pure_floor, 2)},
            "ipvsadm_Sn_s": round(r.save, 2),
            "ipvsadm_two_Ln_s": round(r.reads, 2),
            "ipvsadm_R_batch_s": round(r.batch, 2),
            "bad_input": {"parameter": r.bad.parameter, "expected": r.bad_parameter,
                          "playbook_s": round(r.bad.wall, 2), "pure_s": round(r.pure_bad, 2),
                          "ipvsadm_ran": False, "validation_alone_s": round(r.validation, 2)},
            "engine_load_1min_before_after": r.load,
        }
    for r in rows:  # the two floors and the list passed by a lookup, beside the keys above
        assert r.lookup_empty and r.lookup_noop and r.list_floor and r.list_floor_lookup
        n = r.n
        data[f"speedup_playbook_lookup_{n}"] = round(r.base_empty / r.lookup_empty.wall, 1)
        data[f"noop_over_read_lookup_{n}"] = round(ratio(r, "noop", "lookup"), 2)
        for way, suffix in (("extra_vars", ""), ("lookup", "_lookup"), ("pure", "_pure")):
            data[f"list_floor_over_read{suffix}_{n}"] = round(ratio(r, "list_floor", way), 2)
            data[f"noop_over_list_floor{suffix}_{n}"] = round(ratio(r, "noop_over_list_floor", way), 2)
        data[f"peak_rss_mib_list_floor_{n}"] = round(r.list_floor_rss_kib / 1024, 1)
        data[f"detail_{n}"]["playbook_s"].update(
            from_empty_lookup=round(r.lookup_empty.wall, 2), noop_lookup=round(r.lookup_noop.wall, 2),
            list_floor=round(r.list_floor.wall, 2), list_floor_lookup=round(r.list_floor_lookup.wall, 2))
        data[f"detail_{n}"]["pure_s"]["list_floor"] = round(r.pure_list_floor, 2)
    if 1000 in by_n and 10000 in by_n:
        low, high = by_n[1000], by_n[10000]
        data["growth_1000_to_10000"] = round(above_floor(high, "empty") / above_floor(low, "empty"), 1)
        for which in ("noop", "pure_empty", "pure_noop", "lookup_empty", "empty_after_clear"):
            data[f"growth_1000_to_10000_{which}"] = round(above_floor(high, which) / above_floor(low, which), 1)
    data["notes"] = {
        "speedup_playbook": "per-rule baseline / whole ansible-playbook from an empty table",
        "noop_over_read": "(no-op playbook - ansible.builtin.ping playbook) / one ipvsadm -Sn of the same table; "
                          "_pure: the same with the payloads run in the container",
        "growth_1000_to_10000": "from-empty playbook time above the floor, 10000 / 1000 (other variants beside it)",
        "from_empty": "each from-empty run in a network namespace that never held a table (the bench container "
                      "restarted); _after_clear: right after ipvsadm -C of the full table, when the kernel still "
                      "keeps the deleted real servers in its trash list and scans it on every add",
        "peak_rss_mib": "ru_maxrss of the pure from-empty and no-op runs (module process or its ipvsadm children)",
        "ways": "the list passed as users' vars (-e @file: the keys without a way) or read by the task, "
                "lookup('ansible.builtin.file') | from_json (_lookup keys); _pure: payloads run in the container",
        "list_floor_over_read": "(list floor - ansible.builtin.ping floor) / one ipvsadm -Sn: what any module "
                                "taking the same list (same argument spec, no work) pays above the ping floor; the "
                                "bound under noop_over_read",
        "noop_over_list_floor": "(no-op - list floor) / one ipvsadm -Sn: the module's own share of a no-op",
    }
    data["goals"] = GOALS
    return data


def goals_report(data: dict[str, Any]) -> str:
    lines = ["Issue 13 goals (reported, not asserted):", ""]

    def verdict(key: str, bound: float, at_most: bool) -> None:
        if key not in data:
            return
        value = data[key]
        met = value <= bound if at_most else value >= bound
        lines.append(f"- {key} = {value} ({'<=' if at_most else '>='} {bound}: {'met' if met else 'NOT met'})")

    for n in (1000, 10000):
        verdict(f"speedup_playbook_{n}", GOALS[f"speedup_playbook_{n}"], False)
        verdict(f"speedup_playbook_lookup_{n}", GOALS[f"speedup_playbook_{n}"], False)
    for n in (1000, 10000):
        verdict(f"noop_over_read_{n}", GOALS["noop_over_read"], True)
        verdict(f"noop_over_read_lookup_{n}", GOALS["noop_over_read"], True)
        if f"noop_over_read_pure_{n}" in data:
            lines.append(f"  (pure: {data[f'noop_over_read_pure_{n}']})")
        for suffix, label in (("", "-e @file"), ("_lookup", "lookup"), ("_pure", "pure")):
            key = f"list_floor_over_read{suffix}_{n}"
            if key in data:
                lines.append(f"  bound, {label}: the list floor alone is {data[key]} x ipvsadm -Sn above the ping "
                             f"floor; the no-op above the list floor {data[f'noop_over_list_floor{suffix}_{n}']}")
    verdict("growth_1000_to_10000", GOALS["growth"], True)
    verdict("growth_1000_to_10000_lookup_empty", GOALS["growth"], True)
    verdict("growth_1000_to_10000_empty_after_clear", GOALS["growth"], True)
    for key in sorted(data):
        if key.startswith("peak_rss_mib_") or (key.startswith("growth_1000_to_10000_") and key not in (
                "growth_1000_to_10000_lookup_empty", "growth_1000_to_10000_empty_after_clear")):
            lines.append(f"- {key} = {data[key]}")
    for key in sorted(data):
        if key.startswith("detail_") and data[key].get("baseline_extrapolated"):
            lines.append(f"- N={key[7:]}: the per-rule baseline is EXTRAPOLATED ({data[key]['baseline_note']})")
    return "\n".join(lines)


def write_results(data: dict[str, Any], path: Path = RESULTS) -> None:
    out = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "commit": commit(), **data}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N (default: %(default)s)")
    parser.add_argument("--image", default=IMAGE, help="node image (default: %(default)s)")
    parser.add_argument("--rerun-max", type=int, default=100,
                        help="time the guide re-run only up to this N (default: %(default)s)")
    parser.add_argument("--full-max", type=int, default=1000,
                        help="measure the per-rule baseline in full up to this N, extrapolate above "
                             "(default: %(default)s)")
    parser.add_argument("--noop-only", action="store_true",
                        help="only the no-op, the two floors and ipvsadm -Sn on a table built by one ipvsadm -R "
                             f"(for a loaded engine); writes {RESULTS_NOOP.relative_to(ROOT)} instead")
    parser.add_argument("--no-write", action="store_true", help=f"do not write {RESULTS.relative_to(ROOT)}")
    parser.add_argument("--keep", action="store_true", help="leave the bench container running at the end")
    parser.add_argument("--reuse", action="store_true", help=f"use an existing {NAME} container")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    signal.signal(signal.SIGTERM, _terminate)
    try:
        playbook_bin = find_playbook_bin()
        exists = container_exists()
        if exists and not args.reuse:
            raise BenchError(f"a container named {NAME} exists already: pass --reuse, or remove it "
                             f"(docker rm -f {NAME}) if it is a leftover of this benchmark")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lvs-dr-bench-") as tmp:
            for way in WAYS:
                suffix = "_lookup" if way == "lookup" else ""
                (Path(tmp) / f"bench{suffix}.yml").write_text(playbook("lvs.dr.ipvs_service", way), encoding="utf-8")
                (Path(tmp) / f"list_floor{suffix}.yml").write_text(playbook(LIST_FLOOR, way), encoding="utf-8")
            (Path(tmp) / "library").mkdir()
            (Path(tmp) / "library" / f"{LIST_FLOOR}.py").write_text(LIST_FLOOR_MODULE, encoding="utf-8")
            (Path(tmp) / "floor.yml").write_text(FLOOR_PLAYBOOK, encoding="utf-8")
            ansible = Ansible(playbook_bin, Path(tmp), ansible_env())
            if not exists:
                create_container(args.image)
            install_ipvsadm()
            for n in sizes:
                print(f"N={n} ...", flush=True)
                rows.append(measure_size(n, ansible, args))
                if not args.no_write:  # each size as it ends: a long run cut short keeps what it measured
                    write_results(*written(rows, args.noop_only))
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if not args.keep:
            remove_container()
    print()
    print(report_floors(rows) if args.noop_only else report(rows))
    results, path = written(rows, args.noop_only)
    print()
    print(goals_report(results))
    if not args.no_write:
        write_results(results, path)
        print(f"\nwritten to {path.relative_to(ROOT)}")
    return 0


def measure_size(n: int, ansible: Ansible, args: argparse.Namespace) -> Row:
    """One size, full or ``--noop-only``; prints its row."""
    if args.noop_only:
        row = measure_noop(n, ansible)
        print(report_floors([row]).splitlines()[-1], flush=True)
    else:
        row = measure(n, ansible, args.rerun_max, args.full_max)
        print(report([row]).splitlines()[2], flush=True)
    return row


def written(rows: list[Row], noop_only: bool) -> tuple[dict[str, Any], Path]:
    return (summarize_noop(rows), RESULTS_NOOP) if noop_only else (summarize(rows), RESULTS)


if __name__ == "__main__":
    sys.exit(main())
