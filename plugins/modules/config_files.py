#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: config_files
short_description: Write several small configuration files in one task, each only when it differs
version_added: "0.2.0"
description:
  - Compares every file of O(files) with what the host has (content, mode, owner, group) and writes the ones
    that differ, in one module run instead of one task per file. Roles render the contents on the controller,
    for example with P(ansible.builtin.template#lookup).
  - Everything is checked before any file is touched, paths, directories, owners, groups and modes; then each
    new content is written to a temporary file beside its target and checked with its O(files[].validate)
    command; only when every check passed are the files moved into place, atomically, one after the other.
    A failed check leaves every file as it was.
  - A file whose content is right but whose mode, owner or group is not is corrected in place.
  - After writing, the files are read again; the module fails when one is not what was asked for.
author:
  - lvs.dr contributors (!UNKNOWN)
options:
  files:
    description:
      - The files, at most 64, each at most 1 MiB of text.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - Absolute, normalised path of the file. Its directory must exist (in check mode it may be missing,
            as an earlier task of the run may create it).
        type: str
        required: true
      content:
        description: The whole content of the file.
        type: str
        required: true
      mode:
        description: Permissions as a quoted octal string, for example V('0644').
        type: str
        default: '0644'
      owner:
        description: User owning the file.
        type: str
        default: root
      group:
        description: Group owning the file.
        type: str
        default: root
      validate:
        description:
          - Command that checks a new content before it replaces the file, with V(%s) standing for the file to
            check (a temporary file in the same directory). It runs without a shell. Not run in check mode.
        type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports the same C(changed), RV(files) and diff as a real run; the O(files[].validate) commands do not run.
  diff_mode:
    support: full
    details: One diff entry per file, in the order of O(files).
  platform:
    support: full
    platforms: posix
notes:
  - For small files that a role renders itself. Large or binary files, backups and file attributes beyond
    mode, owner and group are the job of M(ansible.builtin.copy) and M(ansible.builtin.template).
seealso:
  - module: ansible.builtin.template
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: The nftables rules of a table and the unit that loads them at boot, in one task
  lvs.dr.config_files:
    files:
      - path: /etc/lvs-dr.nft
        content: "{{ lookup('ansible.builtin.template', 'lvs-dr.nft.j2') }}"
        validate: /usr/sbin/nft -c -f %s
      - path: /etc/systemd/system/lvs-dr-firewall.service
        content: "{{ lookup('ansible.builtin.template', 'lvs-dr-firewall.service.j2') }}"
  register: written

- name: Reload the unit only when its file changed
  ansible.builtin.systemd_service:
    name: lvs-dr-firewall.service
    daemon_reload: "{{ written.files[1].changed }}"
"""

RETURN = r"""
files:
  description: One entry per file of O(files), in the same order.
  returned: success
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
      returned: success
    changed:
      description: Whether the file was (or in check mode would be) written or corrected.
      type: bool
      returned: success
    created:
      description: Whether the file did not exist before.
      type: bool
      returned: success
    content_changed:
      description: Whether its content was (or would be) replaced.
      type: bool
      returned: success
    attributes:
      description: The attributes corrected in place, for example V(mode 0600 -> 0644).
      type: list
      elements: str
      returned: success
  sample:
    - {path: /etc/lvs-dr.nft, changed: true, created: false, content_changed: true, attributes: []}
"""

import grp
import os
import pwd
import tempfile
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils import config_files as cf
from ansible_collections.lvs.dr.plugins.module_utils.diff import DiffCollector
from ansible_collections.lvs.dr.plugins.module_utils.errors import exit_with

ARGUMENT_SPEC: dict[str, Any] = {
    "files": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "str", "required": True},
            "content": {"type": "str", "required": True},
            "mode": {"type": "str", "default": "0644"},
            "owner": {"type": "str", "default": "root"},
            "group": {"type": "str", "default": "root"},
            "validate": {"type": "str"},
        },
    },
}


def _set_attributes(path: str, spec: cf.FileSpec) -> None:
    os.chown(path, pwd.getpwnam(spec.owner).pw_uid, grp.getgrnam(spec.group).gr_gid)
    os.chmod(path, spec.mode)


def _stage(module: AnsibleModule, index: int, change: cf.FileChange) -> str:
    """The new content in a temporary file beside the target, with its attributes, checked; returns its path."""
    spec = change.spec
    fd, tmp = tempfile.mkstemp(prefix=".lvs-dr-", dir=os.path.dirname(spec.path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(spec.content)
        _set_attributes(tmp, spec)
        if spec.validate:
            command = cf.validate_command(spec.validate, tmp)
            rc, stdout, stderr = module.run_command(command)
            if rc != 0:
                raise cf.ConfigFilesError(
                    f"files[{index}].validate: '{command}' rejected the new content of {spec.path} (rc {rc}); "
                    "no file was changed",
                    parameter=f"files[{index}].validate", rc=rc, stdout=stdout, stderr=stderr)
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def apply(module: AnsibleModule, changes: list[cf.FileChange]) -> None:
    """Stage and check every new content, then move them into place; fix attributes in place."""
    staged: list[tuple[cf.FileChange, str]] = []
    try:
        for index, change in enumerate(changes):
            if change.content_changed:
                staged.append((change, _stage(module, index, change)))
        for change, tmp in staged:
            module.atomic_move(tmp, change.spec.path)
            _set_attributes(change.spec.path, change.spec)
        for change in changes:
            if change.attributes and not change.content_changed:
                _set_attributes(change.spec.path, change.spec)
    finally:
        for _change, tmp in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def prove(changes: list[cf.FileChange]) -> None:
    """Read every changed file again: it must now be what was asked for."""
    for change in changes:
        if not change.changed:
            continue
        after = cf.plan(change.spec, cf.read_state(change.spec.path))
        if after.changed:
            raise cf.ConfigFilesError(
                f"{change.spec.path} is not what was written (content changed: {after.content_changed}, "
                f"attributes: {', '.join(after.attributes) or 'as asked'})")


def run(module: AnsibleModule) -> dict[str, Any]:
    specs = cf.validate_entries(module.params["files"], module.check_mode)
    changes = [cf.plan(spec, cf.read_state(spec.path)) for spec in specs]
    if any(change.changed for change in changes) and not module.check_mode:
        apply(module, changes)
        prove(changes)
    diff = DiffCollector()
    for change in changes:
        diff.add(change.spec.path, change.before.content or "", change.spec.content)
    result = {"changed": any(change.changed for change in changes),
              "files": [change.report() for change in changes]}
    return diff.report(result, module._diff)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with(module, lambda: run(module))


if __name__ == "__main__":
    main()
