"""ipvs_sockopt against a real kernel: the same model as the ipvsadm read, or no table at all.

Opt-in like the other test-bed tests (``source <(tools/labhost env)``, image ``lvs-dr/node:debian12``)::

    DOCKER_HOST=... .venv/bin/pytest -q -p no:cacheprovider tests/testbed/test_ipvs_sockopt_kernel.py

One privileged container (its own network namespace, so its own IPVS table; name from
``LVS_DR_SOCKOPT_CONTAINER``, default ``lvs-dr-sockopt``), removed afterwards. For every table under
``tests/unit/plugins/module_utils/fixtures/ipvs_sockopt/*.rules``, loaded with ``ipvsadm -R``: the reader
gives the table ``Ipvsadm.read_table``'s ipvsadm path gives (``-Ln --thresholds`` with /proc/net/ip_vs, or
``-Ln``), in the same order, or raises ``SockoptUnavailable`` for the cases it leaves to ipvsadm -- the same
outcome as recorded in the unit tests' fixture of that table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed_nodes import IMAGE, docker, needs_engine

REPO = Path(__file__).resolve().parents[2]
TABLES = REPO / "tests" / "unit" / "plugins" / "module_utils" / "fixtures" / "ipvs_sockopt"
NAME = os.environ.get("LVS_DR_SOCKOPT_CONTAINER", "lvs-dr-sockopt")

pytestmark = needs_engine

COMPARE = """\
import sys
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_sockopt
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    merge_listings, merge_proc, parse_listing, parse_proc_ip_vs)
import subprocess

def listing(*args):
    return subprocess.run(["ipvsadm", "-L", "-n", *args], capture_output=True, text=True, check=True).stdout

try:
    direct = ipvs_sockopt.read_table().described()
except ipvs_sockopt.SockoptUnavailable as exc:
    print("unavailable: " + exc.msg)
    sys.exit(0)
table = parse_listing(listing("--thresholds"), "thresholds")
with open("/proc/net/ip_vs", encoding="utf-8") as handle:
    proc = handle.read()
if not merge_proc(table, parse_proc_ip_vs(proc)):
    table = merge_listings(parse_listing(listing()), thresholds=table)
print("table" if table.described() == direct else "DIFFERENT " + repr((table.described(), direct)))
"""


@pytest.fixture(scope="module")
def container() -> Iterator[str]:
    docker("rm", "-f", NAME, check=False)
    docker("run", "-d", "--privileged", "--name", NAME, "--label", "lvs-dr.role=test", "--entrypoint", "sleep",
           IMAGE, "infinity")
    try:
        docker("exec", NAME, "mkdir", "-p", "/opt/c/ansible_collections/lvs/dr/plugins", "/opt/t")
        docker("cp", str(REPO / "plugins" / "module_utils"), f"{NAME}:/opt/c/ansible_collections/lvs/dr/plugins/")
        docker("cp", f"{TABLES}/.", f"{NAME}:/opt/t/")
        yield NAME
    finally:
        docker("rm", "-f", NAME, check=False)


@pytest.mark.parametrize("name", sorted(path.stem for path in TABLES.glob("*.rules")))
def test_the_same_table_as_ipvsadm_or_none(container: str, name: str) -> None:
    expected = json.loads((TABLES / f"{name}.json").read_text(encoding="utf-8"))["outcome"]
    docker("exec", container, "sh", "-c", f"ipvsadm -C && ipvsadm -R < /opt/t/{name}.rules")
    out = docker("exec", "-e", "PYTHONPATH=/opt/c", container, "python3", "-c", COMPARE).stdout.strip()
    # the table as ipvsadm reads it, or the same refusal as recorded. (On a kernel shared with busy namespaces a
    # read can meet their changes twice and give up with "the table changed": a rerun, not a bug.)
    assert out == expected
