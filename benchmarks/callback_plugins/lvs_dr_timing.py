"""Record how long each task took and what ran on each host, as JSON.

Used by the benchmarks (never by tests): set

    ANSIBLE_CALLBACKS_ENABLED=lvs_dr_timing
    ANSIBLE_CALLBACK_PLUGINS=<repo>/benchmarks/callback_plugins
    LVS_DR_TIMING_FILE=/path/to/out.json

and the playbook run writes {"tasks": [...], "hosts": {...}} there at the end:
per task its name, action, whether that action runs a module on the host
(not only on the controller), wall time (from its start to the start of the
next task or the end of the play) and per host how many results it had (a
loop counts each item); per host the module runs, i.e. the results of tasks
that run a module, in total (``module_runs``) and per role (``module_runs_by_role``,
``play`` for tasks outside any role).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: lvs_dr_timing
type: aggregate
short_description: per-task wall time and per-host module runs, as JSON
description:
  - Writes the file named by LVS_DR_TIMING_FILE at the end of the run.
requirements:
  - enable in configuration
"""

# Actions that run on the controller only: no module reaches the host.
CONTROLLER_ONLY = frozenset({
    "debug", "set_fact", "assert", "fail", "meta", "include_tasks", "import_tasks", "include_role",
    "import_role", "include_vars", "add_host", "group_by", "pause", "set_stats", "import_playbook",
    "validate_argument_spec",
})


def _short(action: str) -> str:
    return action.rsplit(".", 1)[-1] if action.startswith("ansible.builtin.") else action


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "lvs_dr_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._tasks: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None
        self._module_runs: dict[str, int] = {}
        self._by_role: dict[str, dict[str, int]] = {}
        self._started = time.monotonic()

    def _close_current(self) -> None:
        if self._current is not None:
            self._current["seconds"] = round(time.monotonic() - self._current.pop("_t0"), 3)
            self._tasks.append(self._current)
            self._current = None

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        self._close_current()
        action = _short(task.action)
        role = task._role.get_name() if getattr(task, "_role", None) else "play"
        self._current = {"name": task.get_name(), "action": action, "runs_module": action not in CONTROLLER_ONLY,
                         "role": role, "loop": bool(task.loop), "results": {}, "_t0": time.monotonic()}

    def v2_playbook_on_handler_task_start(self, task: Any) -> None:
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_play_start(self, play: Any) -> None:
        self._close_current()

    def _count(self, result: Any, item: bool = False) -> None:
        if self._current is None:
            return
        if not item and self._current["loop"]:
            return  # a loop: its items were counted one by one (a module may return "results" of its own)
        host = result._host.get_name()
        results = self._current["results"]
        results[host] = results.get(host, 0) + 1
        delegated = result._result.get("_ansible_delegated_vars") or {}
        target = delegated.get("ansible_delegated_host", host)
        if self._current["runs_module"]:
            self._module_runs[target] = self._module_runs.get(target, 0) + 1
            roles = self._by_role.setdefault(target, {})
            roles[self._current["role"]] = roles.get(self._current["role"], 0) + 1

    def v2_runner_on_ok(self, result: Any) -> None:
        self._count(result)

    def v2_runner_on_failed(self, result: Any, ignore_errors: bool = False) -> None:
        self._count(result)

    def v2_runner_item_on_ok(self, result: Any) -> None:
        self._count(result, item=True)

    def v2_runner_item_on_failed(self, result: Any) -> None:
        self._count(result, item=True)

    def v2_playbook_on_stats(self, stats: Any) -> None:
        self._close_current()
        out = os.environ.get("LVS_DR_TIMING_FILE")
        if not out:
            return
        with open(out, "w") as fh:
            json.dump({"seconds": round(time.monotonic() - self._started, 3), "tasks": self._tasks,
                       "module_runs": self._module_runs, "module_runs_by_role": self._by_role}, fh, indent=1)
