"""tools/lab (`make lab`): one line per stage, the table, the log; on a
failure the log's relevant lines. Stand-ins replace labhost and molecule."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path):
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


lab = _load("lab", REPO / "tools" / "lab")

FAKE_LABHOST = """#!/bin/sh
case "$1" in
  cache) echo "labhost: node image: built in 1s" >&2 ;;
  up) echo "labhost: guest ready" >&2
      echo "export DOCKER_HOST=tcp://127.0.0.1:1"
      echo "export LVS_DR_LABHOST=qemu"
      echo "export LVS_DR_LABHOST_STARTED=0" ;;
  env) echo "export DOCKER_HOST=tcp://127.0.0.1:1" ;;
  down) echo "labhost: lab guest stopped" >&2 ;;
esac
"""

FAKE_MOLECULE = """#!/bin/sh
echo "$@ keep=${LVS_DR_LAB_KEEP_PACKAGES:-} testinfra=${LVS_DR_LAB_TESTINFRA:-}" >> "$FAKE_CALLS"
case "$1" in
  converge)
    echo "INFO     [default > create] Executing"
    i=0; while [ $i -lt 200 ]; do echo "FAILED - RETRYING: [localhost]: Wait ($i retries left)."; i=$((i+1)); done
    echo "INFO     [default > prepare] Executing"
    echo "INFO     [default > converge] Executing"
    if [ -n "$FAKE_FAIL" ]; then
      echo "TASK [lvs.dr.realserver : Install the web server with apt (guide step 2.4)]"
      echo "fatal: [rs1]: FAILED! =>"
      echo "    msg: No package matching 'apache2' is available"
      echo "PLAY RECAP"
      echo "rs1    : ok=3 changed=0 unreachable=0 failed=1"
      i=0; while [ $i -lt 60 ]; do echo "INFO noise $i"; i=$((i+1)); done
      exit 2
    fi
    echo "PLAY RECAP *****"
    echo "director                   : ok=20   changed=0    unreachable=0    failed=0"
    echo "localhost                  : ok=0    changed=0    unreachable=0    failed=0    skipped=1"
    echo "rs1                        : ok=17   changed=0    unreachable=0    failed=0" ;;
  verify)
    printf '20 requests from client\\nrs1 10/20\\nrs2 10/20\\n' > "$LVS_DR_VERIFY_REPORT" ;;
esac
"""


@pytest.fixture
def stand_ins(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, text in (("labhost", FAKE_LABHOST), ("molecule", FAKE_MOLECULE)):
        (bindir / name).write_text(text)
        (bindir / name).chmod(0o755)
    monkeypatch.setattr(lab, "LABHOST", bindir / "labhost")
    monkeypatch.setattr(lab, "LOG_DIR", tmp_path / "logs")
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls"))
    monkeypatch.delenv("LVS_DR_LAB_VERBOSE", raising=False)
    monkeypatch.delenv("FAKE_FAIL", raising=False)
    return tmp_path


def test_up_prints_one_line_per_stage_then_the_table(stand_ins, capsys):
    assert lab.main(["up"]) == 0
    out = capsys.readouterr().out
    stages = [line.split()[0] for line in out.splitlines() if line.startswith("  ") and " s " in line]
    assert stages == ["cache", "guest", "nodes", "converge", "verify"]
    assert "site.yml: director changed=0, rs1 changed=0" in out
    assert "rs1 10/20" in out and "rs2 10/20" in out
    assert "RETRYING" not in out  # Molecule's internals stay in the log
    log = stand_ins / "logs" / "lab-up.log"
    assert f"Log:        {log}" in out
    assert "FAILED - RETRYING" in log.read_text()
    # the lab keeps the image's packages and leaves the testinfra checks to make test
    assert (stand_ins / "calls").read_text().splitlines() == [
        "converge -s default keep=1 testinfra=", "verify -s default keep= testinfra=0"]


def test_a_failed_stage_shows_the_cause_from_the_log(stand_ins, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_FAIL", "1")
    assert lab.main(["up"]) == 1
    out = capsys.readouterr().out
    assert "converge  FAILED after" in out
    assert "msg: No package matching 'apache2' is available" in out
    assert "fatal: [rs1]: FAILED!" in out
    assert "RETRYING" not in out
    assert f"whole log: {stand_ins / 'logs' / 'lab-up.log'}" in out
    assert "verify" not in (stand_ins / "calls").read_text()


def test_down_removes_the_lab(stand_ins, capsys):
    assert lab.main(["down"]) == 0
    out = capsys.readouterr().out
    assert "down" in out and "the cache stays" in out
    assert (stand_ins / "calls").read_text().splitlines() == ["destroy -s default keep= testinfra="]


def test_usage(capsys):
    assert lab.main(["sideways"]) == 2
    assert "usage: tools/lab up|down" in capsys.readouterr().err
