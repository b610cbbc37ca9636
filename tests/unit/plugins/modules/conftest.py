"""The one harness for a module's main(): arguments in, the exit_json or fail_json result out.

``run_module(module, args, check=False, diff=False)`` runs ``module.main()``
with ``args`` as the task's arguments and returns the result dict.  A result
that went through ``fail_json`` always carries ``failed: True``; one that went
through ``exit_json`` is returned exactly as the module built it.  Every global
it touches (Ansible's argument buffer, ``exit_json``/``fail_json``) is set
through ``monkeypatch`` and restored after the test.
"""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any, Protocol

import pytest
from ansible.module_utils import basic


class ModuleExit(Exception):
    """exit_json was called; args[0] is the result."""


class ModuleFail(Exception):
    """fail_json was called; args[0] is the result, with failed=True."""


class RunModule(Protocol):
    def __call__(self, module: ModuleType, args: dict[str, Any], check: bool = False,
                 diff: bool = False) -> dict[str, Any]: ...


def _exit_json(_module: basic.AnsibleModule, **result: Any) -> None:
    raise ModuleExit(result)


def _fail_json(_module: basic.AnsibleModule, **result: Any) -> None:
    raise ModuleFail(dict(result, failed=True))


@pytest.fixture
def run_module(monkeypatch: pytest.MonkeyPatch) -> RunModule:
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", _exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", _fail_json)

    def run(module: ModuleType, args: dict[str, Any], check: bool = False, diff: bool = False) -> dict[str, Any]:
        payload = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        monkeypatch.setattr(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": payload}).encode())
        monkeypatch.setattr(basic, "_ANSIBLE_PROFILE", "legacy", raising=False)
        with pytest.raises((ModuleExit, ModuleFail)) as outcome:
            module.main()
        return dict(outcome.value.args[0])

    return run
