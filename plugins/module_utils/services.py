# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether services are installed, running and enabled, read in one pass.

With systemd as the service manager, one ``systemctl show`` call answers for
every unit; without it, each service is its init script in ``/etc/init.d``
(present when the script exists, running when ``<script> status`` exits 0,
enabled when a start link exists in an ``/etc/rc?.d`` runlevel directory).
Reading never changes anything.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.command import CommandResult
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError

SYSTEMD_PROPERTIES = ("LoadState", "ActiveState", "SubState", "UnitFileState")
SYSTEMD_BOOTED_DIR = "/run/systemd/system"
INIT_DIR = "/etc/init.d"
RC_GLOB = "/etc/rc[0-6S].d/S[0-9][0-9]{name}"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:_.@-]*$")
_UNIT_SUFFIXES = (".service", ".socket", ".target", ".timer", ".mount", ".path")


class ServiceError(LvsDrError):
    """A service name is invalid, or the service manager's answer could not be read."""


@dataclass(frozen=True)
class ServiceState:
    """One service as the host's service manager sees it."""

    name: str
    manager: str
    present: bool
    active: bool
    enabled: Optional[bool]
    state: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_names(names: Sequence[str]) -> list[str]:
    """The names, each a plain service or unit name; ServiceError naming the first bad one."""
    if not names:
        raise ServiceError("names: give at least one service name", parameter="names")
    for index, name in enumerate(names):
        if not isinstance(name, str) or not _NAME.match(name):
            raise ServiceError(
                f"names[{index}]: {name!r} is not a service name (letters, digits and :_.@- only, no path)",
                parameter=f"names[{index}]",
            )
    return list(names)


def unit_name(name: str) -> str:
    """``name`` as a systemd unit: ``.service`` is added unless it already has a unit type."""
    return name if name.endswith(_UNIT_SUFFIXES) else f"{name}.service"


def systemd_show_args(names: Sequence[str]) -> list[str]:
    """The ``systemctl`` arguments that read every service of ``names`` in one call."""
    return ["show", f"--property={','.join(SYSTEMD_PROPERTIES)}", "--", *(unit_name(name) for name in names)]


def _blocks(stdout: str) -> list[dict[str, str]]:
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in stdout.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


def parse_systemd_show(names: Sequence[str], result: CommandResult) -> list[ServiceState]:
    """States from ``systemctl show`` output: one block per unit, in the order asked."""
    blocks = _blocks(result.stdout)
    if result.rc != 0 or len(blocks) != len(names) or any("LoadState" not in block for block in blocks):
        raise ServiceError(
            f"could not read the state of {', '.join(names)} from systemctl (rc {result.rc}, "
            f"{len(blocks)} answer block(s) for {len(names)} unit(s))",
            cmd=result.cmd, rc=result.rc, stdout=result.stdout, stderr=result.stderr,
        )
    return [_systemd_state(name, block) for name, block in zip(names, blocks)]


def _systemd_state(name: str, block: dict[str, str]) -> ServiceState:
    load = block.get("LoadState", "")
    active = block.get("ActiveState", "")
    file_state = block.get("UnitFileState", "")
    present = load not in ("not-found", "")
    enabled: Optional[bool] = None
    if file_state.startswith("enabled"):
        enabled = True
    elif file_state in ("disabled", "masked", "masked-runtime"):
        enabled = False
    state = "absent" if not present else ("running" if active in ("active", "reloading") else "stopped")
    return ServiceState(name=name, manager="systemd", present=present, active=state == "running",
                        enabled=enabled, state=state)


def script_name(name: str) -> str:
    """``name`` as an init script's name: a ``.service`` suffix dropped."""
    return name[: -len(".service")] if name.endswith(".service") else name


def init_script(name: str, init_dir: str = INIT_DIR) -> Optional[str]:
    """The init script of ``name``, None when there is none."""
    path = os.path.join(init_dir, script_name(name))
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def sysv_enabled(name: str, rc_glob: str = RC_GLOB) -> bool:
    """True when a start link of ``name`` exists in a runlevel directory."""
    return bool(glob.glob(rc_glob.format(name=glob.escape(script_name(name)))))


def sysv_state(name: str, script: Optional[str], status: Optional[CommandResult], enabled: bool) -> ServiceState:
    """The state of an init-script service from its script and the result of ``<script> status``."""
    if script is None:
        return ServiceState(name=name, manager="sysv", present=False, active=False, enabled=None, state="absent")
    running = status is not None and status.rc == 0
    return ServiceState(name=name, manager="sysv", present=True, active=running, enabled=enabled,
                        state="running" if running else "stopped")


def systemd_booted(booted_dir: str = SYSTEMD_BOOTED_DIR) -> bool:
    """True when systemd is the running service manager (its runtime directory exists)."""
    return os.path.isdir(booted_dir)
