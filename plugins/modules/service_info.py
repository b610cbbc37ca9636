#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: service_info
short_description: Read whether services are installed, running and enabled, in one call
version_added: "0.2.0"
description:
  - Reports, for each service of O(names), whether the host has it, whether it runs and whether it starts at
    boot. Read-only; it never reports a change.
  - With systemd as the running service manager, one C(systemctl show) call answers for every service.
    Without it, a service is its init script in C(/etc/init.d), present when the script exists, running when
    C(<script> status) exits 0, enabled when a start link exists in an C(/etc/rc?.d) directory.
  - Meant for roles that must decide from a few services (is firewalld running?) without listing every
    service of the host; M(ansible.builtin.service_facts) lists them all and asks each init script for its
    status, which costs seconds to tens of seconds.
author:
  - lvs.dr contributors (!UNKNOWN)
options:
  names:
    description:
      - The services to read, for example C(firewalld). A name without a unit type gets C(.service) for
        systemd; a C(.service) suffix is dropped for init scripts.
    type: list
    elements: str
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module changes nothing, so it reads the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
seealso:
  - module: ansible.builtin.service_facts
  - module: ansible.builtin.systemd_service
"""

EXAMPLES = r"""
- name: Read whether firewalld runs
  lvs.dr.service_info:
    names: [firewalld]
  register: firewall_services

- name: Use it
  ansible.builtin.debug:
    msg: "firewalld is {{ firewall_services.services.firewalld.state }}"
"""

RETURN = r"""
manager:
  description: The service manager that answered, C(systemd) or C(sysv).
  returned: success
  type: str
  sample: systemd
services:
  description: One entry per name of O(names), keyed by the name as given.
  returned: success
  type: dict
  contains:
    name: {description: The name as given., type: str, returned: success}
    manager: {description: C(systemd) or C(sysv)., type: str, returned: success}
    present:
      description: Whether the host has the service (a loaded unit or an init script).
      type: bool
      returned: success
    active:
      description: Whether it runs now (systemd C(active) or C(reloading); an init script's status 0).
      type: bool
      returned: success
    enabled:
      description: Whether it starts at boot; null when that cannot be told (absent, or a static unit).
      type: bool
      returned: success
    state:
      description: One of C(running), C(stopped) and C(absent).
      type: str
      returned: success
  sample:
    firewalld: {name: firewalld, manager: systemd, present: true, active: true, enabled: true, state: running}
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils import services as svc
from ansible_collections.lvs.dr.plugins.module_utils.command import CommandRunner
from ansible_collections.lvs.dr.plugins.module_utils.errors import exit_with

ARGUMENT_SPEC: dict[str, Any] = {
    "names": {"type": "list", "elements": "str", "required": True},
}


def read_systemd(module: AnsibleModule, names: list[str]) -> list[svc.ServiceState]:
    result = CommandRunner(module, "systemctl", "systemd").run(svc.systemd_show_args(names))
    return svc.parse_systemd_show(names, result)


def read_sysv(module: AnsibleModule, names: list[str]) -> list[svc.ServiceState]:
    states = []
    for name in names:
        script = svc.init_script(name)
        status = CommandRunner(module, name, path=script).run(["status"]) if script else None
        states.append(svc.sysv_state(name, script, status, svc.sysv_enabled(name)))
    return states


def run(module: AnsibleModule) -> dict[str, Any]:
    names = svc.validate_names(module.params["names"])
    manager = "systemd" if svc.systemd_booted() else "sysv"
    states = read_systemd(module, names) if manager == "systemd" else read_sysv(module, names)
    return {"changed": False, "manager": manager, "services": {state.name: state.as_dict() for state in states}}


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with(module, lambda: run(module))


if __name__ == "__main__":
    main()
