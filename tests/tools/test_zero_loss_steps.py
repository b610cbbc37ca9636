"""extensions/molecule/shared/zero_loss_steps.py: which step a load's failure belongs to.

Plain pytest, no Ansible run: the script reads JSON on stdin and prints JSON.
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / "extensions" / "molecule" / "shared" / "zero_loss_steps.py"


def _figures(data: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(SCRIPT)], input=json.dumps(data), capture_output=True, text=True,
                          check=True, timeout=60)
    return json.loads(proc.stdout)


def _controller(epoch: float) -> str:
    """How ansible.builtin.command reports a start or end on the controller (local time)."""
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S.%f")


def test_a_failure_belongs_to_the_last_step_started_before_its_request() -> None:
    load = {"requests": 100, "failed": 3, "keepalive_connections": 4, "keepalive_broken": 1,
            "failure_events": [[1005.0, "failed", "TimeoutError", 1000.5],   # request started in "a"
                               [1031.0, "failed", "TimeoutError", 1026.0],   # after "a" ended, before "b": "a", after
                               [1041.0, "keepalive_broken", "RemoteDisconnected", 1040.5],  # in "b"
                               [990.0, "failed", "ConnectionRefusedError", 0]]}  # no start: 5 s before, no step
    out = _figures({"offset": 2.0, "blocks": [{"name": "ours", "load": load, "steps": [
        # "b" ran on the controller, whose clock is 2 s behind the load client's (offset)
        {"name": "b", "start": _controller(1038.0), "end": _controller(1048.0)},
        {"name": "a", "start": 1000.0, "end": 1020.0}]}]})
    (block,) = out["blocks"]
    rows = {row["name"]: row for row in block["steps"]}
    assert [row["name"] for row in block["steps"]] == ["before the first step", "a", "b"]  # in time order
    assert (rows["a"]["failed"], rows["a"]["keepalive_broken"], rows["a"]["after_end"]) == (2, 0, 1)
    assert (rows["b"]["failed"], rows["b"]["keepalive_broken"], rows["b"]["start"]) == (0, 1, 1040.0)
    assert rows["before the first step"]["kinds"] == {"ConnectionRefusedError": 1}
    assert out["lines"][0] == "ours: 3 failed of 100 requests, 1 broken of 4 keep-alive"
    assert "  a [00:16:40 +20.0 s]: 2 failed, 0 broken (TimeoutError 2; 1 after its end)" in out["lines"]


def test_steps_without_failures_are_listed_and_an_empty_start_is_not() -> None:
    out = _figures({"blocks": [{"name": "ref", "load": {"requests": 5, "failed": 0, "keepalive_connections": 1,
                                                        "keepalive_broken": 0},
                                "steps": [{"name": "restart", "start": "10.5", "end": "18.5"}]}]})
    assert out["lines"] == ["ref: 0 failed of 5 requests, 0 broken of 1 keep-alive",
                            "  restart [00:00:10 +8.0 s]: 0 failed, 0 broken"]
