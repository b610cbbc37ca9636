# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one way this collection runs a command-line tool on the managed host.

* the binary is looked up once per runner with ``module.get_bin_path``
  (``PATH`` plus the sbin directories); a missing binary is a
  :class:`CommandNotFound` naming the package to install;
* commands are argv lists, never shell strings, run with ``LANG=C``/``LC_ALL=C``
  so the output is untranslated and stable;
* a failure is a :class:`CommandError` carrying ``cmd``, ``rc``, ``stdout`` and
  ``stderr``. What counts as a failure (exit status, stderr text) and the
  message are the tool wrapper's decision (``ipvsadm.py``, ``iproute.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple, Optional

from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError

SBIN_DIRS = ["/sbin", "/usr/sbin", "/usr/local/sbin"]
C_LOCALE = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}


class CommandError(LvsDrError):
    """A tool is missing, or one of its commands failed (or printed what could not be parsed)."""

    def __init__(
        self, msg: str, cmd: Optional[Sequence[str]] = None, rc: Optional[int] = None, stdout: str = "",
        stderr: str = "",
    ) -> None:
        super().__init__(msg)
        self.cmd = list(cmd) if cmd else []
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def fail_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``module.fail_json``: the command's fields whenever there is any."""
        data = super().fail_kwargs()
        if self.cmd or self.rc is not None or self.stdout or self.stderr:
            data.update(cmd=self.cmd, rc=self.rc, stdout=self.stdout, stderr=self.stderr)
        return data


class CommandNotFound(CommandError):
    """The tool is not installed on the managed host."""


class CommandResult(NamedTuple):
    cmd: list[str]
    rc: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return " ".join(self.cmd)


class CommandRunner:
    """Runs one tool through ``module.run_command``."""

    def __init__(self, module: Any, name: str, package: Optional[str] = None, path: Optional[str] = None) -> None:
        """``path``: run this file (an init script, say) instead of looking ``name`` up."""
        self.module = module
        self.name = name
        self.package = package or f"the {name} package"
        self._binary: Optional[str] = path

    @property
    def binary(self) -> str:
        if self._binary is None:
            path = self.module.get_bin_path(self.name, required=False, opt_dirs=SBIN_DIRS)
            if not path:
                raise CommandNotFound(
                    f"{self.name} was not found on the managed host (searched PATH and {', '.join(SBIN_DIRS)}); "
                    f"install {self.package}"
                )
            self._binary = str(path)
        return self._binary

    def run(self, args: Sequence[str], data: Optional[str] = None) -> CommandResult:
        """Run ``<binary> <args>`` (``data`` on stdin, if given); never raises for the exit status."""
        cmd = [self.binary, *args]
        kwargs: dict[str, Any] = {"environ_update": C_LOCALE, "check_rc": False}
        if data is not None:
            kwargs.update(data=data, binary_data=True)
        rc, stdout, stderr = self.module.run_command(cmd, **kwargs)
        return CommandResult(cmd, rc, stdout or "", stderr or "")
