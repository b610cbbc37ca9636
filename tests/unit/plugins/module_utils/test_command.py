"""The one command runner and the one error base class."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.lvs.dr.plugins.module_utils.command import (
    CommandError,
    CommandNotFound,
    CommandRunner,
)
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError


class FakeModule:
    def __init__(self, binary: str | None = "/usr/sbin/tool") -> None:
        self.binary = binary
        self.lookups: list[tuple[str, bool, list[str]]] = []
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def get_bin_path(self, name: str, required: bool = False, opt_dirs: list[str] | None = None) -> str | None:
        self.lookups.append((name, required, list(opt_dirs or [])))
        return self.binary

    def run_command(self, cmd: list[str], **kwargs: Any) -> tuple[int, str, str | None]:
        self.calls.append((cmd, kwargs))
        return 3, "out", None  # a stream may come back as None: the result has ""


def test_binary_is_looked_up_once_and_commands_are_argv_with_c_locale() -> None:
    module = FakeModule()
    runner = CommandRunner(module, "tool")
    first = runner.run(["-a", "b c"])
    runner.run(["-x"], data="line\n")
    assert module.lookups == [("tool", False, ["/sbin", "/usr/sbin", "/usr/local/sbin"])]
    (cmd1, kw1), (cmd2, kw2) = module.calls
    assert cmd1 == ["/usr/sbin/tool", "-a", "b c"] and "data" not in kw1 and kw1["check_rc"] is False
    assert kw1["environ_update"] == {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}
    assert cmd2 == ["/usr/sbin/tool", "-x"] and kw2["data"] == "line\n" and kw2["binary_data"] is True
    assert (first.rc, first.stdout, first.stderr, first.command) == (3, "out", "", "/usr/sbin/tool -a b c")


def test_missing_binary_names_the_package_and_runs_nothing() -> None:
    module = FakeModule(binary=None)
    with pytest.raises(CommandNotFound) as info:
        CommandRunner(module, "ip", "iproute2").run(["link"])
    assert info.value.fail_kwargs() == {
        "msg": "ip was not found on the managed host (searched PATH and /sbin, /usr/sbin, /usr/local/sbin); "
        "install iproute2"
    }
    assert module.calls == []


def test_command_error_reports_the_command_fields() -> None:
    error = CommandError("tool failed", ["/usr/sbin/tool", "-x"], 2, "", "boom\n")
    assert isinstance(error, LvsDrError)
    assert error.fail_kwargs() == {"msg": "tool failed", "cmd": ["/usr/sbin/tool", "-x"], "rc": 2, "stdout": "",
                                   "stderr": "boom\n"}
    unparsable = CommandError("cannot parse", stdout="{not json")
    assert unparsable.fail_kwargs() == {"msg": "cannot parse", "cmd": [], "rc": None, "stdout": "{not json",
                                        "stderr": ""}


def test_error_fields_travel_to_fail_json() -> None:
    error = LvsDrError("device: no such interface: 'eth9'", interfaces=["lo"])
    assert str(error) == error.msg
    assert error.fail_kwargs() == {"msg": "device: no such interface: 'eth9'", "interfaces": ["lo"]}
