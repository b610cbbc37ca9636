"""tools/molecule-scenarios with a stand-in ``molecule`` on PATH (no engine needed)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "molecule-scenarios"

# Records its arguments and start/end times; the scenario "broken" fails.
FAKE = """#!/bin/sh
echo "start $3 $(date +%s.%N)" >> "$LOG"
echo "output of $3"
if [ "$3" = broken ]; then
  echo "TASK [lvs.dr.director : Pre-flight | ask who answers ARP] ***"
  echo 'fatal: [director]: FAILED! => {"changed": false, "msg": "real servers 10.0.0.3 do not answer"}'
  echo "PLAY RECAP"
fi
sleep 1
echo "end $3 $(date +%s.%N)" >> "$LOG"
[ "$3" = broken ] && exit 3
exit 0
"""


@pytest.fixture
def fake(tmp_path: Path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "molecule").write_text(FAKE)
    (bin_dir / "molecule").chmod(0o755)
    log = tmp_path / "calls.log"

    def run(*scenarios: str, **env: str) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
        proc = subprocess.run([str(SCRIPT), *scenarios], capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "LOG": str(log), **env})
        calls = [line.split() for line in log.read_text().splitlines()] if log.exists() else []
        return proc, calls

    return run


def _span(calls: list[list[str]], scenario: str) -> tuple[float, float]:
    start = next(float(c[2]) for c in calls if c[:2] == ["start", scenario])
    end = next(float(c[2]) for c in calls if c[:2] == ["end", scenario])
    return start, end


def test_scenarios_run_side_by_side_with_prefixed_output(fake) -> None:
    proc, calls = fake("modules", "default")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Each line carries its scenario and the minutes:seconds since that scenario started.
    assert re.search(r"^\[modules 00:0\d\] output of modules$", proc.stdout, re.MULTILINE)
    assert re.search(r"^\[default 00:0\d\] output of default$", proc.stdout, re.MULTILINE)
    assert "molecule-scenarios: modules passed" in proc.stdout
    assert "molecule-scenarios: default passed" in proc.stdout
    (m_start, m_end), (d_start, d_end) = _span(calls, "modules"), _span(calls, "default")
    assert d_start < m_end and m_start < d_end  # they overlapped


def test_one_failing_scenario_fails_the_run_after_the_others_finish(fake) -> None:
    proc, calls = fake("broken", "default")
    assert proc.returncode == 1
    assert "molecule-scenarios: broken FAILED" in proc.stdout
    assert "molecule-scenarios: default passed" in proc.stdout
    assert [c[:2] for c in calls if c[1] == "default"][-1] == ["end", "default"]


def test_the_end_of_the_output_says_why_a_scenario_failed(fake, tmp_path: Path) -> None:
    summary = tmp_path / "failures.txt"
    proc, _calls = fake("broken", "default", LVS_DR_FAILURES=str(summary))
    assert proc.returncode == 1
    # After the interleaved lines: the failed task and its error, so a log read from its tail explains itself.
    tail = proc.stdout[proc.stdout.index("molecule-scenarios: default passed"):]
    assert "why broken failed" in tail
    assert "TASK [lvs.dr.director : Pre-flight | ask who answers ARP]" in tail
    assert 'fatal: [director]: FAILED! => {"changed": false, "msg": "real servers 10.0.0.3 do not answer"}' in tail
    assert "why default" not in tail
    assert summary.read_text() == tail[tail.index("molecule-scenarios: why"):]


def test_serial_mode_runs_one_after_the_other(fake) -> None:
    proc, calls = fake("broken", "default", LVS_DR_MOLECULE_SERIAL="1")
    assert proc.returncode == 1
    (_b_start, b_end), (d_start, _d_end) = _span(calls, "broken"), _span(calls, "default")
    assert b_end <= d_start


def test_no_scenario_is_a_usage_error(fake) -> None:
    proc, calls = fake()
    assert proc.returncode == 2
    assert "usage" in proc.stderr
    assert calls == []


def test_groups_after_a_double_dash_start_when_the_group_before_has_ended(fake) -> None:
    proc, calls = fake("modules", "broken", "--", "ha")
    assert proc.returncode != 0
    first_end = max(_span(calls, "modules")[1], _span(calls, "broken")[1])
    assert _span(calls, "ha")[0] >= first_end
    # the first group side by side; a failure there does not stop the next group, and is explained at the end
    assert _span(calls, "broken")[0] < _span(calls, "modules")[1]
    assert "molecule-scenarios: ha passed" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("  ")
    assert "molecule-scenarios: why broken failed:" in proc.stdout


def test_a_double_dash_first_is_a_usage_error(fake) -> None:
    proc, _calls = fake("--", "ha")
    assert proc.returncode == 2
