#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_service
short_description: Declarative IPVS virtual services and real servers, reconciled in place
version_added: "0.1.0"
description:
  - Manages Linux Virtual Server (IPVS) virtual services and their real servers with C(ipvsadm).
  - Reads the live kernel table (an IPv4 table without persistent services straight from the kernel, with IPVS's
    get-sockopts and one netlink dump, when the module runs as root; otherwise one C(ipvsadm -Ln --thresholds)
    call whatever its size, and the real servers' forwarding and weights from C(/proc/net/ip_vs);
    C(ipvsadm -Ln) when that file cannot be read or disagrees), computes the difference and applies
    only that difference, in place. A changed service is edited (C(ipvsadm -E)) and a changed real server too
    (C(-e)); the table is never flushed and a service whose key did not change is never deleted and re-added,
    so established connections and counters survive.
  - The difference is sent to the kernel over IPVS's generic netlink interface, the requests C(ipvsadm) sends
    for the same lines, many per C(send) on one socket (C(ipvsadm) opens a socket per line; at 10,000 services
    the netlink batches took 3.7 s where one C(ipvsadm -R) took 35 s on the test bed). When no generic netlink
    socket or no IPVS family is available, nothing is sent that way and the lines go to one C(ipvsadm -R)
    batch instead. A change the kernel refuses fails the task, naming its line and the reason; the other
    changes are applied, as C(ipvsadm -R) applies the lines after a failed one.
  - Only the services named in the task are looked at. Real servers not listed are removed from that service
    only; other services (created by hand, by keepalived, by other tasks) are never touched.
  - Give either the options of one service at the top level, or a list of services in O(services).
  - Every input is validated before the table is read or anything is sent to the kernel; errors name the
    parameter (for example
    C(services[3].real_servers[1].weight)) and the bad value.
author:
  - lvs.dr contributors (!UNKNOWN)
requirements:
  - ipvsadm on the managed host and a kernel with IPVS (C(ip_vs)).
notes:
  - C(ipvsadm -S) does not save thresholds; they are read with C(ipvsadm -Ln --thresholds) and compared.
  - A change of a service's scheduler is not hitless. The kernel unbinds the old scheduler, waits for the RCU grace
    period, then binds the new one; a new connection that arrives in between finds no scheduler and is refused
    (measured on the lab, about 2 refused connections per change under load). Established connections are kept.
    The task warns and lists the changes in RV(scheduler_changes). Weight, threshold, persistence and real-server
    changes are hitless.
  - After applying, the table is read again the same way and compared with the request; the task fails if
    anything is still to do.
  - With more than 100 entries in O(services), the result's C(invocation.module_args.services) (shown at
    C(-vvv)) is the number of entries instead of the list, which would double the size of the result.
  - >-
    A very large O(services) list (thousands of entries) is best read from a JSON file by the task itself,
    with the C(ansible.builtin.file) lookup and the C(from_json) filter (see the examples), not handed over as a
    variable (C(vars_files), C(-e @file), inventory or role variables): ansible-core 2.19 tags and copies every value of
    a variable when it loads it and again when it templates the task, and that is most of a large run. Measured
    on the controller (2-core machine, ansible-core 2.19, a module taking the list with this module's argument
    spec and exiting at once, C(connection: local)) at 10,000 services of 3 real servers each: 13.9 s with the
    list passed as C(-e @file), 3.1 s with the lookup, 1.2 s with an empty list. The module's own work on
    that list (validation, the table read, the plan) was about 0.3 s of CPU on the same machine.
  - The tunnel encapsulation type is not managed; tunnel real servers use ipvsadm's default (ipip).
  - The one-packet (C(-o)) flag and persistence engine (C(--pe)) of an existing service are not managed but are
    kept when the service is edited.
  - A real server whose address is local to the director is shown by the kernel as C(Local) forwarding; it is
    treated as equal to C(dr).
attributes:
  check_mode:
    support: full
    description: Check mode reports the same C(changed), C(commands), C(diff) and C(services) as a real run.
  diff_mode:
    support: full
    description: Before and after of the managed services in C(ipvsadm -S) format, and of the restore file.
  platform:
    support: full
    platforms: linux
    description: Linux with the IPVS kernel module and C(ipvsadm).
options:
  services:
    description:
      - Several virtual services, each a dictionary with the same options as the single-service top-level
        options (V(protocol), V(address), V(port), V(fwmark), V(family), V(scheduler), V(scheduler_flags),
        V(persistence_timeout), V(persistence_netmask), V(real_servers), V(state)).
      - Mutually exclusive with the single-service options. An entry without O(services[].state) takes the
        top-level O(state).
      - The module checks every entry itself, before it reads the table; an unknown key fails with a message
        that names the entry, for example C(services[3].real_servers[0]) and the key C(wieght).
    type: list
    elements: dict
    suboptions:
      protocol:
        description: V(tcp) (default), V(udp) or V(sctp).
        type: str
      address:
        description: Virtual IP address (IPv4 or IPv6). Required unless O(services[].fwmark) is given.
        type: str
      port:
        description: Virtual port 1-65535 (0 only for a persistent all-ports service).
        type: int
      fwmark:
        description: Firewall mark (1-4294967295) instead of address/port.
        type: int
      family:
        description: V(ipv4) (default) or V(ipv6); only with O(services[].fwmark).
        type: str
      scheduler:
        description:
          - One of V(rr), V(wrr), V(lc), V(wlc) (default), V(lblc), V(lblcr), V(dh), V(sh), V(sed), V(nq),
            V(fo), V(ovf), V(mh), V(twos).
        type: str
      scheduler_flags:
        description:
          - C(-b) flags. V(sh-fallback), V(sh-port) with C(sh); V(mh-fallback), V(mh-port) with C(mh);
            V(flag-1), V(flag-2), V(flag-3) with other schedulers.
        type: list
        elements: str
      persistence_timeout:
        description: Persistence timeout in seconds (1-2678400); omit for a non-persistent service.
        type: int
      persistence_netmask:
        description: Persistence granularity; dotted mask for IPv4, prefix length for IPv6.
        type: str
      real_servers:
        description: Real servers, same suboptions as O(real_servers).
        type: list
        elements: dict
        suboptions:
          address:
            description: Real server address.
            type: str
          port:
            description: Real server port.
            type: int
          forwarding:
            description: V(dr) (default), V(nat) or V(tunnel).
            type: str
          weight:
            description: Weight 0-65535.
            type: int
            default: 1
          upper_threshold:
            description: Upper connection threshold 0-65535 (0 = none).
            type: int
            default: 0
          lower_threshold:
            description: Lower connection threshold 0-65535.
            type: int
            default: 0
      state:
        description: V(present) or V(absent).
        type: str
  protocol:
    description: Protocol of an address service. Defaults to V(tcp).
    type: str
    choices: [tcp, udp, sctp]
  address:
    description: Virtual IP address (IPv4 or IPv6) of the service. Required with O(port) unless O(fwmark) is used.
    type: str
  port:
    description:
      - Virtual port, 1-65535. V(0) (all ports) only together with O(persistence_timeout), as ipvsadm requires.
    type: int
  fwmark:
    description: Firewall-mark service (1-4294967295) instead of O(protocol)/O(address)/O(port).
    type: int
  family:
    description: Address family of a firewall-mark service. Defaults to V(ipv4).
    type: str
    choices: [ipv4, ipv6]
  scheduler:
    description: Scheduling algorithm. Defaults to V(wlc), the kernel's default.
    type: str
    choices: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh, twos]
  scheduler_flags:
    description:
      - Scheduler flags (C(ipvsadm -b)). V(sh-fallback) and V(sh-port) with C(sh), V(mh-fallback) and
        V(mh-port) with C(mh), V(flag-1), V(flag-2), V(flag-3) with the other schedulers.
    type: list
    elements: str
  persistence_timeout:
    description: Make the service persistent with this timeout in seconds (1-2678400).
    type: int
  persistence_netmask:
    description:
      - Persistence granularity. A dotted netmask such as V(255.255.255.0) for IPv4, a prefix length such as
        V(64) for IPv6. Requires O(persistence_timeout). Default is one client address.
    type: str
  real_servers:
    description:
      - The complete list of real servers of the service. Real servers of this service that are not listed
        are removed; an empty or missing list leaves the service without real servers.
    type: list
    elements: dict
    suboptions:
      address:
        description: Real server IP address. Same family as the service unless O(real_servers[].forwarding=tunnel).
        type: str
      port:
        description:
          - Real server port. With V(dr) and V(tunnel) it must equal the service port (ipvsadm forces it) and
            may be omitted; with V(nat) it defaults to the service port.
        type: int
      forwarding:
        description: V(dr) direct routing (C(-g), default), V(nat) masquerading (C(-m)), V(tunnel) IPIP (C(-i)).
        type: str
      weight:
        description: Weight, 0-65535. V(0) stops new connections (drain).
        type: int
        default: 1
      upper_threshold:
        description: Upper connection threshold (C(-x)), 0-65535, 0 means none.
        type: int
        default: 0
      lower_threshold:
        description:
          - Lower connection threshold (C(-y)), 0-65535, not above O(real_servers[].upper_threshold) when that
            is set.
        type: int
        default: 0
  state:
    description: Whether the service should exist. With O(services) it is the default for entries without a state.
    type: str
    choices: [present, absent]
    default: present
  return_services:
    description:
      - Which services the RV(services) return value lists.
      - V(changed) lists only the services this run added, edited or removed (in check mode, would), so a
        run that changes nothing returns an empty list, and the result stays small with thousands of
        services.
      - V(all) lists every service of the task that exists after the run, changed or not, and the ones this
        run removed.
    type: str
    choices: [changed, all]
    default: changed
  save:
    description:
      - After converging, write the whole table (C(ipvsadm -Sn) output) to the distribution's restore file
        when its content differs, atomically. Reported in C(changed) and C(diff).
    type: bool
    default: false
  save_path:
    description:
      - Restore file for O(save). Default by distribution read from C(/etc/os-release)
        C(/etc/sysconfig/ipvsadm) on the RedHat family, C(/etc/ipvsadm.rules) on the Debian family.
      - Its directory must exist and be writable; this is checked with the rest of the input, before the
        table is read or changed.
    type: path
seealso:
  - module: lvs.dr.ipvs_info
"""

EXAMPLES = r"""
- name: The lab guide's service, VIP 192.168.206.150:80, round robin, two DR real servers
  lvs.dr.ipvs_service:
    address: 192.168.206.150
    port: 80
    scheduler: rr
    real_servers:
      - address: 192.168.206.128
      - address: 192.168.206.129

- name: Drain rs2 (weight 0) without touching the service or rs1
  lvs.dr.ipvs_service:
    address: 192.168.206.150
    port: 80
    scheduler: rr
    real_servers:
      - address: 192.168.206.128
      - address: 192.168.206.129
        weight: 0

- name: Many services in one task, then save them for the next boot
  lvs.dr.ipvs_service:
    services:
      - address: 2001:db8::150
        port: 443
        scheduler: sh
        scheduler_flags: [sh-fallback, sh-port]
        real_servers:
          - address: 2001:db8::128
            upper_threshold: 1000
            lower_threshold: 800
      - fwmark: 10
        scheduler: wlc
        persistence_timeout: 300
        persistence_netmask: 255.255.255.0
        real_servers:
          - address: 192.168.206.128
      - protocol: udp
        address: 192.168.206.150
        port: 53
        state: absent
    save: true

- name: Remove one service; nothing else in the table changes
  lvs.dr.ipvs_service:
    address: 192.168.206.150
    port: 80
    state: absent

- name: Converge, then show what changed (result.services lists only added, edited and removed services)
  lvs.dr.ipvs_service:
    services: "{{ lvs_services }}"
  register: result

- name: Show the services that were removed
  ansible.builtin.debug:
    msg: "{{ result.services | selectattr('state', '==', 'absent') | list }}"

- name: Thousands of services, read from a JSON file by the task itself (much faster than a vars file)
  lvs.dr.ipvs_service:
    services: "{{ lookup('ansible.builtin.file', 'services.json') | from_json }}"

- name: Return every service of the task, changed or not (a large result with many services)
  lvs.dr.ipvs_service:
    services: "{{ lvs_services }}"
    return_services: all
  register: result_all
"""

RETURN = r"""
scheduler_changes:
  description:
    - The services whose scheduler the task changed (or, in check mode, would change); each such change refuses new
      connections for a moment (see the notes), and the task warns about it.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The service's key (protocol, address, port, family; or fwmark and family).
      type: dict
      returned: success
    rule:
      description: The service as ipvsadm selects it, for example C(-t 192.168.206.150:80).
      type: str
      returned: success
    before:
      description: The scheduler before the change.
      type: str
      returned: success
    after:
      description: The scheduler after the change.
      type: str
      returned: success
  sample: [{service: {protocol: tcp, address: 192.168.206.150, port: 80, family: ipv4}, rule: "-t 192.168.206.150:80",
            before: rr, after: wrr}]
commands:
  description: The changes applied (or, in check mode, that would be applied), in order, as C(ipvsadm -R) lines.
  returned: always
  type: list
  elements: str
  sample: ["-E -t 192.168.206.150:80 -s wrr", "-e -t 192.168.206.150:80 -r 192.168.206.129:80 -g -w 3"]
services:
  description:
    - Services of the task, normalised, in request order. With O(return_services=changed) (the default) only
      those this run added, edited or removed (in check mode, would), so an empty list when nothing changed;
      with O(return_services=all) also every other service of the task that exists.
    - A service that exists after the run has RV(services[].state=present) and is shown as it is after the
      run; a service this run removed has RV(services[].state=absent) and is shown as it was before.
    - A service that was absent and stays absent is not listed.
  returned: always
  type: list
  elements: dict
  contains:
    state:
      description: V(present) (exists after the run) or V(absent) (removed by this run).
      type: str
      sample: present
    protocol:
      description: V(tcp), V(udp) or V(sctp).
      type: str
      returned: for an address service
      sample: tcp
    address:
      description: Virtual IP address (IPv6 compressed).
      type: str
      returned: for an address service
      sample: 192.168.206.150
    port:
      description: Virtual port.
      type: int
      returned: for an address service
      sample: 80
    fwmark:
      description: Firewall mark.
      type: int
      returned: for a firewall-mark service
      sample: 10
    family:
      description: V(ipv4) or V(ipv6).
      type: str
      sample: ipv4
    scheduler:
      description: Scheduling algorithm.
      type: str
      sample: rr
    scheduler_flags:
      description: Scheduler flags, sorted.
      type: list
      elements: str
      sample: []
    persistence_timeout:
      description: Persistence timeout in seconds, V(null) when not persistent.
      type: int
      sample: null
    persistence_netmask:
      description: Persistence netmask (dotted for IPv4, prefix length for IPv6), V(null) when not persistent.
      type: str
      sample: null
    real_servers:
      description: Real servers in address order, each with C(address), C(port), C(forwarding), C(weight),
        C(upper_threshold), C(lower_threshold).
      type: list
      elements: dict
      sample:
        - {address: 192.168.206.128, port: 80, forwarding: dr, weight: 1, upper_threshold: 0, lower_threshold: 0}
  sample:
    - protocol: tcp
      address: 192.168.206.150
      port: 80
      family: ipv4
      scheduler: rr
      scheduler_flags: []
      persistence_timeout: null
      persistence_netmask: null
      real_servers:
        - {address: 192.168.206.128, port: 80, forwarding: dr, weight: 1, upper_threshold: 0, lower_threshold: 0}
      state: present
applied_with:
  description:
    - How the changes reached the kernel; V(netlink) (IPVS's generic netlink interface, many requests per
      C(send)) or V(ipvsadm -R) (when no generic netlink socket or IPVS family could be used).
  returned: when changes were applied (not in check mode)
  type: str
  sample: netlink
save_path:
  description: The restore file that was compared (and written when it differed).
  returned: when O(save=true)
  type: str
  sample: /etc/sysconfig/ipvsadm
saved:
  description: Whether the restore file was (or in check mode would be) rewritten.
  returned: when O(save=true)
  type: bool
diff:
  description:
    - Always a list of C(before_header), C(after_header), C(before), C(after) entries.
    - The first entry is the managed services before and after, in C(ipvsadm -S) format, under the header
      C(ipvs table (managed services)). With O(save=true) a second entry is the restore file before and
      after, under its path.
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before_header: ipvs table (managed services)
      after_header: ipvs table (managed services)
      before: "-A -t 192.168.206.150:80 -s rr\n-a -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1\n"
      after: "-A -t 192.168.206.150:80 -s wrr\n-a -t 192.168.206.150:80 -r 192.168.206.128:80 -g -w 1\n"
"""

import gc
from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils.diff import DiffCollector
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError, exit_with
from ansible_collections.lvs.dr.plugins.module_utils.files import file_target_problem, read_file, write_atomic
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    service_module_constraints,
    service_module_spec,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_plan import (
    Plan,
    diff_texts,
    plan,
    predict_save,
    summarize,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import (
    ValidationError,
    validate_request,
    validate_save_path,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvsadm import (
    Ipvsadm,
    default_save_path,
    read_os_release,
)

TABLE_DIFF_HEADER = "ipvs table (managed services)"
# above this many entries, invocation.module_args.services is a count instead of the list
ECHO_SERVICES_MAX = 100

# one definition with the benchmark's list floor module (benchmarks/ipvs_service.py)
ARGUMENT_SPEC: dict[str, Any] = service_module_spec()


def build_module() -> AnsibleModule:
    return AnsibleModule(argument_spec=ARGUMENT_SPEC, **service_module_constraints())


class ServiceReconciler:
    """Read, plan, apply (unless check mode), verify, save."""

    def __init__(
        self, module: AnsibleModule, desired: list[Any], save_path: Optional[str], only_changed: bool = True
    ) -> None:
        self.module = module
        self.desired = desired
        self.save_path = save_path
        self.only_changed = only_changed
        self.ipvsadm = Ipvsadm(module)

    def run(self) -> dict[str, Any]:
        live = self.ipvsadm.read_table()
        result = plan(self.desired, live)
        applied_with = None
        if result.changed and not self.module.check_mode:
            applied_with = self.ipvsadm.apply(result.commands, result.operations)
            self._verify(result)
        output: dict[str, Any] = {
            "changed": result.changed,
            "commands": result.commands,
            "services": summarize(result, self.only_changed),
            "scheduler_changes": self._warn_scheduler_changes(result),
        }
        if applied_with:
            output["applied_with"] = applied_with
        want_diff = bool(self.module._diff)
        diffs = DiffCollector()
        if want_diff:  # rendering every managed service twice is not free at 1000 services: only on request
            diffs.add(TABLE_DIFF_HEADER, *diff_texts(result))
        if self.save_path:
            saved = self._save(result, diffs)
            output["save_path"] = self.save_path
            output["saved"] = saved
            output["changed"] = output["changed"] or saved
        return diffs.report(output, want_diff)

    def _warn_scheduler_changes(self, result: Plan) -> list[dict[str, Any]]:
        """Say, in the result and as a warning, that a scheduler change refuses new connections for a moment."""
        changes = []
        for key, old, new in result.scheduler_changes:
            service = key.rule()
            changes.append({"service": key.to_dict(), "rule": service, "before": old, "after": new})
            self.module.warn(
                f"the scheduler of {service} {'would change' if self.module.check_mode else 'changed'} from {old} to "
                f"{new}: the kernel unbinds the old scheduler and waits for RCU before it binds the new one, and a new "
                "connection arriving in between is refused (established ones are kept)")
        return changes

    def _verify(self, result: Plan) -> None:
        again = plan(self.desired, self.ipvsadm.read_table())
        if again.commands:
            raise LvsDrError(
                "the changes were applied but the table did not converge; still to do: " + "; ".join(again.commands),
                commands=result.commands,
            )

    def _save(self, result: Plan, diffs: DiffCollector) -> bool:
        path = self.save_path or ""
        if self.module.check_mode and result.changed:
            content = predict_save(self.ipvsadm.save(), result)
        else:
            content = self.ipvsadm.save()
        current = read_file(path)
        changed = current != content
        if changed and not self.module.check_mode:
            # The ipvsadm services create their restore files 0600.
            write_atomic(self.module, path, content, 0o600, ".ipvsadm-")
        diffs.add(path, current or "", content)
        return changed


def run(module: AnsibleModule) -> dict[str, Any]:
    params = module.params
    # validation first: bad input fails before ipvsadm is even looked for
    desired = validate_request(params)
    save_path = validate_save_path(params["save_path"]) if params["save"] else None
    if params["save"] and save_path is None:
        save_path = default_save_path(read_os_release())
        if save_path is None:
            raise LvsDrError("save_path: cannot tell the restore file of this distribution from "
                             "/etc/os-release; set save_path")
    if save_path is not None:
        # before the table is read or changed: a restore file that cannot be written must not
        # fail the task after the batch was applied
        problem = file_target_problem(save_path)
        if problem:
            raise ValidationError("save_path", save_path, problem)
    return ServiceReconciler(module, desired, save_path, params["return_services"] == "changed").run()


def abridged_invocation(params: dict[str, Any]) -> Optional[dict[str, Any]]:
    """``invocation`` without a long ``services`` list, None when the list is short.

    Ansible echoes every argument back in ``invocation.module_args``: at 10,000 services that copy was walked
    for no_log values, serialised, sent back and parsed by the controller, the largest part of a no-op run.
    The controller shows it at ``-vvv`` only, and has the task's arguments anyway.
    """
    services = params.get("services")
    if not isinstance(services, list) or len(services) <= ECHO_SERVICES_MAX:
        return None
    return {"module_args": {**params, "services": f"({len(services)} entries, not echoed back)"}}


def main() -> None:
    # A 10,000-service request is about half a million live objects (Ansible's copies of the arguments, the
    # request, the table read back): the cyclic garbage collector walked them all again and again, a third of
    # a no-op run's CPU time, and found nothing to free (this module makes no reference cycles to speak of).
    # The process ends with the task, so it runs without it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        module = build_module()
        invocation = abridged_invocation(module.params)
        exit_with(module, lambda: run(module), {"invocation": invocation} if invocation else None)
    finally:
        if collecting:  # the unit tests call main() in their own process
            gc.enable()


if __name__ == "__main__":
    main()
