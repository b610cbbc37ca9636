#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lvs_sysctl_arp
short_description: ARP suppression sysctls for LVS direct-routing real servers
version_added: 0.1.0
description:
  - Sets C(net.ipv4.conf.<scope>.arp_ignore) and C(arp_announce) (and optionally C(rp_filter)) on
    C(all), C(default) and the named interfaces, live in C(/proc/sys) and persisted in a sysctl.d file,
    as step 2.1 of the LVS-DR lab guide does by hand.
  - The kernel uses the maximum of C(conf.all.X) and C(conf.<interface>.X) for these keys, so a value set
    only on one interface (for example C(lo)) does nothing if C(all) is higher, and C(all) always wins when
    it is higher. The module always sets C(all) and returns the B(effective) value per interface.
  - Apply this before the VIP is put on the real server's loopback, or the host may announce the VIP.
  - Every input is validated before anything is read or written.
author:
  - lvs.dr contributors (!UNKNOWN)
options:
  arp_ignore:
    description:
      - Value of C(arp_ignore). C(1) answers ARP only for addresses configured on the receiving interface,
        which hides a VIP held on C(lo).
      - Defaults to C(1) with O(state=present).
      - Not accepted with O(state=absent), which resets the key to the kernel default C(0).
    type: int
    choices: [0, 1, 2, 3, 8]
  arp_announce:
    description:
      - Value of C(arp_announce). C(2) always uses the best local address of the outgoing interface as the
        ARP source, never the VIP.
      - Defaults to C(2) with O(state=present).
      - Not accepted with O(state=absent), which resets the key to the kernel default C(0).
    type: int
    choices: [0, 1, 2]
  rp_filter:
    description:
      - Value of C(rp_filter) (C(0) off, C(1) strict, C(2) loose) on the same scopes.
      - Left unmanaged when omitted.
      - With O(state=absent) this is the value the live keys are set back to (the kernel default is C(0),
        many distributions ship C(2)); the key is left alone when omitted.
    type: int
    choices: [0, 1, 2]
  interfaces:
    description:
      - Interfaces to set besides C(all) (and C(default)), for example the real server's C(eth0).
      - Each must exist (have a C(/proc/sys/net/ipv4/conf/<name>) directory).
    type: list
    elements: str
    default: []
  include_default:
    description:
      - Also set C(conf.default), which interfaces created later inherit.
    type: bool
    default: true
  persist:
    description:
      - Keep the settings in the file O(path) so that they survive a reboot.
      - With V(false) the file is neither written nor removed.
    type: bool
    default: true
  path:
    description:
      - Absolute path of the sysctl.d file, written atomically and only when its content differs.
      - Its directory must exist.
    type: path
    default: /etc/sysctl.d/lvs-dr.conf
  state:
    description:
      - V(present) sets the values live and in the file.
      - V(absent) removes the file and resets C(arp_ignore) and C(arp_announce) of the same scopes to C(0)
        (and C(rp_filter) to O(rp_filter) when given).
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The result, including RV(effective) and the diff, is predicted exactly from the state read.
  diff_mode:
    support: full
    details: Shows the file content and the live values before and after, as the entries of RV(diff).
  platform:
    support: full
    platforms: linux
notes:
  - Writing C(/proc/sys) needs root and, in a container, a privileged container.
  - Interface names containing dots (VLANs such as C(eth0.100)) are written with C(/) in the file, as
    sysctl.d(5) requires.
seealso:
  - module: lvs.dr.lvs_loopback_vip
  - name: Kernel documentation of arp_ignore, arp_announce and rp_filter
    description: Documentation/networking/ip-sysctl.rst
    link: https://docs.kernel.org/networking/ip-sysctl.html
"""

EXAMPLES = r"""
- name: Hide the VIP of a real server (the guide's step 2.1)
  lvs.dr.lvs_sysctl_arp:
    interfaces:
      - ens33

- name: Same, loose reverse-path filtering, settings not kept across reboots
  lvs.dr.lvs_sysctl_arp:
    interfaces: [eth0, eth1]
    rp_filter: 2
    persist: false

- name: Undo it and return rp_filter to loose mode
  lvs.dr.lvs_sysctl_arp:
    interfaces: [eth0]
    rp_filter: 2
    state: absent
"""

RETURN = r"""
raw_values:
  description: Raw values the module manages, per scope, after the run (predicted in check mode).
  returned: always
  type: dict
  sample: {"all": {"arp_ignore": 1, "arp_announce": 2}, "default": {"arp_ignore": 1, "arp_announce": 2},
           "eth0": {"arp_ignore": 1, "arp_announce": 2}}
effective:
  description:
    - Values the kernel really uses per interface, C(max(conf.all.X, conf.<interface>.X)), after the run.
    - For the interfaces in O(interfaces), or for every interface when that list is empty.
    - Holds C(rp_filter) only when O(rp_filter) is given.
  returned: always
  type: dict
  sample: {"eth0": {"arp_ignore": 1, "arp_announce": 2}, "lo": {"arp_ignore": 1, "arp_announce": 2}}
live_changes:
  description: Live keys that were (or in check mode would be) written.
  returned: always
  type: list
  elements: dict
  sample: [{"key": "net.ipv4.conf.all.arp_ignore", "before": 0, "after": 1}]
file_changed:
  description: Whether the file O(path) was (or would be) written or removed.
  returned: always
  type: bool
sysctl_file:
  description: The sysctl.d file O(path) (named so to keep Ansible from adding file attributes to the result).
  returned: always
  type: str
  sample: /etc/sysctl.d/lvs-dr.conf
diff:
  description:
    - Always a list. With O(persist=true) its first entry is the file O(path) before and after (its header
      ends in C((absent)) on the side where the file does not exist); the last entry is the live values of
      the managed scopes before and after, as C(key = value) lines.
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before_header: /etc/sysctl.d/lvs-dr.conf (absent)
      after_header: /etc/sysctl.d/lvs-dr.conf
      before: ""
      after: "# Ansible managed by lvs.dr.lvs_sysctl_arp ...\nnet.ipv4.conf.all.arp_ignore = 1\n"
    - before_header: live values
      after_header: live values
      before: "net.ipv4.conf.all.arp_ignore = 0\n"
      after: "net.ipv4.conf.all.arp_ignore = 1\n"
"""

import os
from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils import sysctl_arp as sa
from ansible_collections.lvs.dr.plugins.module_utils.diff import DiffCollector
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError, exit_with
from ansible_collections.lvs.dr.plugins.module_utils.files import read_file, write_atomic

# Indirection so tests can point the module at a fake /proc/sys tree.
CONF_ROOT = sa.CONF_ROOT
PRESENT_DEFAULTS = sa.PRESENT_DEFAULTS
ARGUMENT_SPEC: dict[str, Any] = {
    "arp_ignore": {"type": "int", "choices": list(sa.VALID_VALUES["arp_ignore"])},
    "arp_announce": {"type": "int", "choices": list(sa.VALID_VALUES["arp_announce"])},
    "rp_filter": {"type": "int", "choices": list(sa.VALID_VALUES["rp_filter"])},
    "interfaces": {"type": "list", "elements": "str", "default": []},
    "include_default": {"type": "bool", "default": True},
    "persist": {"type": "bool", "default": True},
    "path": {"type": "path", "default": "/etc/sysctl.d/lvs-dr.conf"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}


def _validate_state(params: dict[str, Any]) -> None:
    if params["state"] == "absent":
        for key in ("arp_ignore", "arp_announce"):
            if params[key] is not None:
                raise LvsDrError(
                    f"{key}={params[key]} is not accepted with state=absent: "
                    f"state=absent resets {key} to the kernel default 0"
                )


def _validate_path(params: dict[str, Any]) -> None:
    if not params["persist"]:
        return
    path = params["path"]
    if not path or not os.path.isabs(path):
        raise LvsDrError(f"path must be absolute, got: '{path}'")
    if os.path.isdir(path):
        raise LvsDrError(f"path '{path}' is a directory, expected a file name")
    if params["state"] == "present" and not os.path.isdir(os.path.dirname(path)):
        raise LvsDrError(f"path '{path}': directory '{os.path.dirname(path)}' does not exist")


def _validate_interfaces(names: list[str], existing: list[str], conf_root: str) -> list[str]:
    """The interfaces, de-duplicated; each a valid name with a conf directory."""
    interfaces: list[str] = []
    for name in names:
        error = sa.validate_interface_name(name)
        if error:
            raise LvsDrError(error)
        if name not in interfaces:
            interfaces.append(name)
    if "all" not in existing:
        raise LvsDrError(f"{conf_root} is not readable: is this Linux with IPv4 enabled?")
    missing = [name for name in interfaces if name not in existing]
    if missing:
        raise LvsDrError(
            f"interfaces: no such interface: {', '.join(missing)} (no {conf_root}/<name>)",
            missing_interfaces=missing,
        )
    return interfaces


def _validate(params: dict[str, Any], conf_root: str) -> sa.Scopes:
    """Check every input before anything is read or written; return the scopes to manage, report and read."""
    _validate_state(params)
    _validate_path(params)
    existing = sa.list_conf_scopes(conf_root)
    interfaces = _validate_interfaces(params["interfaces"], existing, conf_root)
    return sa.plan_scopes(interfaces, params["include_default"], existing, _settings(params))


def _settings(params: dict[str, Any]) -> dict[str, Optional[int]]:
    return sa.settings_for(params["state"] == "present", {key: params[key] for key in sa.KEYS})


def _read(scopes: sa.Scopes, conf_root: str) -> sa.Values:
    try:
        return sa.read_values(scopes.read, scopes.keys, conf_root)
    except (OSError, ValueError) as exc:
        raise LvsDrError(f"Cannot read the current values under {conf_root}: {exc}") from exc


def _write_values(changes: list[sa.Change], conf_root: str) -> None:
    for scope, key, _old, new in changes:
        try:
            sa.write_value(scope, key, new, conf_root)
        except OSError as exc:
            raise LvsDrError(
                f"Cannot write {sa.sysctl_key(scope, key)}={new}: {exc} "
                "(root needed; a container must be privileged)"
            ) from exc


def _write_file(module: AnsibleModule, path: str, content: Optional[str]) -> None:
    try:
        if content is None:
            os.unlink(path)
        else:
            write_atomic(module, path, content, 0o644, ".lvs-dr-")
    except OSError as exc:
        raise LvsDrError(f"Cannot update {path}: {exc}") from exc


def _apply(module: AnsibleModule, plan: sa.ArpPlan, path: str, conf_root: str) -> None:
    _write_values(plan.changes, conf_root)
    if plan.file_changed:
        _write_file(module, path, plan.file_after)


def _diff(plan: sa.ArpPlan, params: dict[str, Any], before: sa.Values, after: sa.Values,
          scopes: sa.Scopes) -> DiffCollector:
    """The file (when persisted) and the live values of the managed scopes, before and after."""
    diff = DiffCollector()
    path = params["path"]
    if params["persist"]:
        diff.add(path if plan.file_before is not None else f"{path} (absent)", plan.file_before or "",
                 plan.file_after or "", after_header=path if plan.file_after is not None else f"{path} (absent)")
    diff.add("live values", sa.values_text({scope: before[scope] for scope in scopes.managed}),
             sa.values_text({scope: after[scope] for scope in scopes.managed}))
    return diff


def _report(plan: sa.ArpPlan, params: dict[str, Any], after: sa.Values, scopes: sa.Scopes) -> dict[str, Any]:
    effective_keys = [key for key in scopes.keys if key != "rp_filter" or params["rp_filter"] is not None]
    effective = sa.effective_values(
        {scope: {k: after[scope][k] for k in effective_keys} for scope in after}, scopes.reported
    )
    return {
        "changed": plan.changed,
        "raw_values": {scope: after[scope] for scope in scopes.managed},
        "effective": effective,
        "live_changes": [
            {"key": sa.sysctl_key(scope, key), "before": old, "after": new} for scope, key, old, new in plan.changes
        ],
        "file_changed": plan.file_changed,
        "sysctl_file": params["path"],
    }


def run(module: AnsibleModule, conf_root: str) -> dict[str, Any]:
    """Validate, read, plan, apply unless check mode, re-read, report."""
    params = module.params
    scopes = _validate(params, conf_root)
    before = _read(scopes, conf_root)
    file_before = read_file(params["path"]) if params["persist"] else None
    plan = sa.plan(scopes, _settings(params), before, present=params["state"] == "present",
                   persist=params["persist"], file_before=file_before)
    if module.check_mode:
        after = sa.apply_changes(before, plan.changes)
    else:
        _apply(module, plan, params["path"], conf_root)
        after = sa.read_values(scopes.read, scopes.keys, conf_root)
    result = _report(plan, params, after, scopes)
    return _diff(plan, params, before, after, scopes).report(result, module._diff)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with(module, lambda: run(module, CONF_ROOT))


if __name__ == "__main__":
    main()
