"""Run a module file of this collection as Ansible would: its arguments as JSON, its result parsed.

Shared by the namespace fixtures (conftest.py, which run it inside ``ip netns
exec``) and the tests that need no namespace.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / ".cache" / "collections"
MODULES = REPO / "plugins" / "modules"


def run_module_file(name: str, args: dict[str, Any], check: bool = False, diff: bool = True,
                    prefix: list[str] | None = None) -> dict[str, Any]:
    """Run plugins/modules/<name>.py as Ansible would (its arguments as JSON), after ``prefix``; its result."""
    payload = {"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check, _ansible_diff=diff)}
    env = dict(os.environ, PYTHONPATH=str(COLLECTIONS), LANG="C")
    proc = subprocess.run(
        [*(prefix or []), sys.executable, str(MODULES / f"{name}.py"), json.dumps(payload)],
        capture_output=True, text=True, env=env, check=False,
    )
    try:
        result = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError(f"{name} printed no JSON: rc={proc.returncode} {proc.stdout} {proc.stderr}") from exc
    result.pop("invocation", None)
    return result
