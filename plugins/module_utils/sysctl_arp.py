# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARP (and rp_filter) sysctls of ``net.ipv4.conf.<scope>``: live values and the sysctl.d file.

Plain functions, testable against a temporary directory standing in for
``/proc/sys/net/ipv4/conf``.  The kernel applies ``max(conf.all.X,
conf.<iface>.X)`` for arp_ignore, arp_announce and rp_filter, so a value on
one interface alone can be overridden by ``all``; :func:`effective_values`
computes what the kernel really uses.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

CONF_ROOT = "/proc/sys/net/ipv4/conf"
# Order used everywhere: live writes, the rendered file, returned values.
KEYS = ("arp_ignore", "arp_announce", "rp_filter")
VALID_VALUES: dict[str, tuple[int, ...]] = {
    # Documentation/networking/ip-sysctl.rst: 4-7 are reserved, 8 = do not reply.
    "arp_ignore": (0, 1, 2, 3, 8),
    "arp_announce": (0, 1, 2),
    "rp_filter": (0, 1, 2),
}
KERNEL_DEFAULTS: dict[str, int] = {"arp_ignore": 0, "arp_announce": 0, "rp_filter": 0}
# state=present without a value: the guide's settings.
PRESENT_DEFAULTS: dict[str, int] = {"arp_ignore": 1, "arp_announce": 2}
GLOBAL_SCOPES = ("all", "default")
FILE_HEADER = (
    "# Ansible managed by lvs.dr.lvs_sysctl_arp: ARP suppression for LVS direct routing.\n"
    "# The kernel uses max(conf.all.X, conf.<interface>.X) for these keys.\n"
)
# Interface names as the kernel accepts them (dev_valid_name): no '/', ':' or whitespace.
_IFNAME_RE = re.compile(r"^[^/:\s]{1,15}$")

Values = dict[str, dict[str, int]]  # scope -> key -> value
Change = tuple[str, str, int, int]  # scope, key, old, new


def validate_interface_name(name: str) -> Optional[str]:
    if name in GLOBAL_SCOPES:
        return f"interfaces: '{name}' is always managed (see include_default); list real interfaces only"
    if name in (".", "..") or not _IFNAME_RE.match(name):
        return f"interfaces: '{name}' is not a valid interface name"
    return None


def conf_path(scope: str, key: str, root: str = CONF_ROOT) -> str:
    return os.path.join(root, scope, key)


def list_conf_scopes(root: str = CONF_ROOT) -> list[str]:
    """Directories of the conf tree: 'all', 'default' and one per IPv4-capable interface."""
    try:
        return sorted(entry for entry in os.listdir(root) if os.path.isdir(os.path.join(root, entry)))
    except OSError:
        return []


def read_value(scope: str, key: str, root: str = CONF_ROOT) -> int:
    with open(conf_path(scope, key, root), encoding="ascii") as handle:
        return int(handle.read().strip())


def write_value(scope: str, key: str, value: int, root: str = CONF_ROOT) -> None:
    with open(conf_path(scope, key, root), "w", encoding="ascii") as handle:
        handle.write(f"{value}\n")


def read_values(scopes: list[str], keys: list[str], root: str = CONF_ROOT) -> Values:
    return {scope: {key: read_value(scope, key, root) for key in keys} for scope in scopes}


def desired_values(scopes: list[str], settings: dict[str, Optional[int]]) -> Values:
    """Same settings on every scope; keys whose value is None are unmanaged."""
    managed = {key: value for key, value in settings.items() if value is not None}
    return {scope: {key: managed[key] for key in KEYS if key in managed} for scope in scopes}


def value_changes(current: Values, desired: Values) -> list[Change]:
    """(scope, key, old, new) for every live value that differs, in write order."""
    changes = []
    for scope, keys in desired.items():
        for key, new in keys.items():
            old = current[scope][key]
            if old != new:
                changes.append((scope, key, old, new))
    return changes


def apply_changes(values: Values, changes: list[Change]) -> Values:
    """The values after ``changes`` (used to predict results in check mode)."""
    result = {scope: dict(keys) for scope, keys in values.items()}
    for scope, key, _old, new in changes:
        result.setdefault(scope, {})[key] = new
    return result


def effective_values(values: Values, interfaces: list[str]) -> Values:
    """What the kernel uses per interface: max(conf.all.X, conf.<iface>.X).

    ``values`` must hold 'all' and each interface with the same keys.
    """
    all_values = values["all"]
    return {
        iface: {key: max(all_values[key], values[iface][key]) for key in all_values if key in values[iface]}
        for iface in interfaces
    }


def sysctl_key(scope: str, key: str) -> str:
    """Dotted sysctl name; dots inside an interface name (VLANs: eth0.100) become '/' as sysctl.d(5) says."""
    return f"net.ipv4.conf.{scope.replace('.', '/')}.{key}"


def render_sysctl_file(values: Values) -> str:
    lines = [FILE_HEADER]
    for scope, keys in values.items():
        for key in KEYS:
            if key in keys:
                lines.append(f"{sysctl_key(scope, key)} = {keys[key]}\n")
    return "".join(lines)


def settings_for(present: bool, given: dict[str, Optional[int]]) -> dict[str, Optional[int]]:
    """The value each key should have (None: unmanaged): the given values, the guide's, or the kernel defaults."""
    if present:
        return {key: given[key] if given[key] is not None else PRESENT_DEFAULTS.get(key) for key in KEYS}
    return {"arp_ignore": KERNEL_DEFAULTS["arp_ignore"], "arp_announce": KERNEL_DEFAULTS["arp_announce"],
            "rp_filter": given["rp_filter"]}


@dataclass(frozen=True)
class Scopes:
    """Which scopes are managed, which interfaces are reported, which keys are read."""

    managed: list[str]
    reported: list[str]
    keys: list[str]

    @property
    def read(self) -> list[str]:
        return list(dict.fromkeys(self.managed + self.reported))


def plan_scopes(interfaces: list[str], include_default: bool, existing: list[str],
                settings: dict[str, Optional[int]]) -> Scopes:
    """'all', 'default' if asked, and the named interfaces; every interface is reported when none is named."""
    managed = ["all"] + (["default"] if include_default else []) + interfaces
    reported = interfaces or [scope for scope in existing if scope not in GLOBAL_SCOPES]
    return Scopes(managed, reported, [key for key in KEYS if settings[key] is not None])


@dataclass(frozen=True)
class ArpPlan:
    """The live writes and the file content that bring the host to the settings."""

    desired: Values
    changes: list[Change]
    file_before: Optional[str]
    file_after: Optional[str]

    @property
    def file_changed(self) -> bool:
        return self.file_before != self.file_after

    @property
    def changed(self) -> bool:
        return bool(self.changes) or self.file_changed


def plan(scopes: Scopes, settings: dict[str, Optional[int]], before: Values, *, present: bool,
         persist: bool, file_before: Optional[str]) -> ArpPlan:
    """Desired values on the managed scopes, the writes they need, and the file to write (None: no file)."""
    desired = desired_values(scopes.managed, settings)
    file_after = file_before
    if persist:
        file_after = render_sysctl_file(desired) if present else None
    return ArpPlan(desired, value_changes(before, desired), file_before, file_after)


def values_text(values: Values) -> str:
    """``key = value`` lines, as in a sysctl.d file."""
    return "".join(
        f"{sysctl_key(scope, key)} = {value}\n" for scope, keys in values.items() for key, value in keys.items()
    )
