#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_drain
short_description: Drain a real server out of the IPVS table, remove it, or return it
version_added: "0.2.0"
description:
  - Takes one real server out of service gracefully, in every virtual service that lists it (or only the entries
    with O(port)), and brings it back.
  - V(drained) sets its weight to 0, so the scheduler sends it no new connection while the established ones carry
    on, then waits until its connections have ended (O(wait_for)) or O(timeout) has passed.
  - V(absent) drains it the same way, then removes it from those services. A server that is in no service is
    already absent. Use O(wait_for=all) before a removal, because the entries the server still has stay in the kernel
    after it, and while they last (C(FIN_WAIT), 120 seconds) the kernel drops the SYN of any new connection that
    reuses the client port of one (unless C(net.ipv4.vs.expire_nodest_conn=1)); the module warns when it removes
    a server that has inactive entries left.
  - V(active) sets its weight back to O(weight) (the return after maintenance). Only entries that exist are
    changed; adding a real server is M(lvs.dr.ipvs_service)'s job.
  - Timeouts and leftovers are never ignored silently. When the wait ends before the connections do, the task
    fails (the server stays at weight 0 and is not removed) and reports RV(left); with O(fail_on_timeout=false)
    it warns instead, and V(absent) then removes the server, cutting the connections it reports in RV(left).
  - In direct routing the director sees only the client-to-server half of a connection, so its entry for a closed
    connection lingers (C(FIN_WAIT), 120 seconds by default) and an idle one counts as active until its timeout
    (900 seconds). O(wait_for=active) waits for the active ones only, V(all) also for the inactive ones.
  - For a persistent service, clients that have a persistence template keep being sent to a weight-0 server until
    the template expires, unless C(net.ipv4.vs.expire_quiescent_template=1); the module warns when it is not set.
  - One C(ipvsadm -R) batch per change; the table is read again afterwards to prove the result.
author:
  - lvs.dr contributors (!UNKNOWN)
requirements:
  - ipvsadm on the managed host and a kernel with IPVS (C(ip_vs)).
attributes:
  check_mode:
    support: full
    description: Predicts the weight changes and removals without waiting; RV(left) shows the connections now.
  diff_mode:
    support: full
    description: One entry with the server's weight in each service, before and after.
  platform:
    support: full
    platforms: linux
    description: Linux with the IPVS kernel module and C(ipvsadm).
options:
  real_server:
    description: Address of the real server, as the virtual services list it (IPv4 or IPv6, no port).
    type: str
    required: true
  port:
    description: Only the entries with this real-server port (default every port of O(real_server)).
    type: int
  state:
    description: V(drained), V(absent) or V(active), as described above.
    type: str
    choices: [drained, absent, active]
    default: drained
  weight:
    description: The weight the server returns with; required with O(state=active), not allowed otherwise.
    type: int
  wait_for:
    description:
      - Which connections the drain waits for. V(active) ones, V(all) (active and inactive) or V(none) (set the
        weight, do not wait; V(absent) then removes at once).
    type: str
    choices: [active, all, none]
    default: active
  timeout:
    description: Seconds to wait for the connections to end, from 0 to 86400.
    type: float
    default: 300
  poll_interval:
    description: Seconds between two reads of the table while waiting, from 0.1 to 60.
    type: float
    default: 1
  table_owner:
    description:
      - Who owns the table. V(ipvsadm) (the default) - the module sets the weight and removes the server itself.
      - V(keepalived) - the module changes nothing; keepalived does, from its configuration (C(lvs.dr.drain) writes
        the weight or the removal into keepalived.conf and reloads it, because keepalived undoes manual edits at
        its next health-check change). The module waits until the live table shows the weight (or, with
        V(absent), that the server is gone), then, for V(drained), until the connections have ended, all within
        O(timeout). A server to drain that is not in the live table (keepalived took it out while its check
        fails) is reported with a warning, not waited for; a returning one (V(active)) is waited for until it is
        in the table with O(weight).
    type: str
    choices: [ipvsadm, keepalived]
    default: ipvsadm
  fail_on_timeout:
    description:
      - Fail when O(timeout) passes with connections left (the default). With V(false) the task warns, reports
        RV(left) and RV(timed_out), and V(absent) removes the server anyway.
    type: bool
    default: true
seealso:
  - module: lvs.dr.ipvs_service
  - module: lvs.dr.ipvs_info
"""

EXAMPLES = r"""
- name: Take rs1 out of rotation and wait until its clients are gone (at most 10 minutes)
  lvs.dr.ipvs_drain:
    real_server: 192.168.206.128
    timeout: 600

- name: Remove it for good once drained
  lvs.dr.ipvs_drain:
    real_server: 192.168.206.128
    state: absent

- name: Back in rotation after the maintenance
  lvs.dr.ipvs_drain:
    real_server: 192.168.206.128
    state: active
    weight: 1
"""

RETURN = r"""
services:
  description: The server's entries (before a removal), with the weight they have now and their connections.
  returned: always
  type: list
  elements: dict
  contains:
    service:
      description: The virtual service, as C(protocol), C(address), C(port), C(family), or C(fwmark) and C(family).
      type: dict
      returned: success
    entry:
      description: The entry as ipvsadm lists it, for example C(TCP 192.0.2.10:80 -> 10.0.0.1:80).
      type: str
      returned: success
    weight: {description: The weight after the task (predicted in check mode)., type: int, returned: success}
    active_connections: {description: Active connections at the last read., type: int, returned: success}
    inactive_connections: {description: Inactive connections at the last read., type: int, returned: success}
    persistent: {description: Whether the service is persistent., type: bool, returned: success}
  sample:
    - service: {protocol: tcp, address: 192.168.206.100, port: 80, family: ipv4}
      entry: TCP 192.168.206.100:80 -> 192.168.206.128:80
      weight: 0
      active_connections: 0
      inactive_connections: 2
      persistent: false
removed:
  description: Whether the server was removed from its services (V(absent)).
  returned: always
  type: bool
  sample: false
waited:
  description: Seconds spent waiting for connections to end (0 in check mode and without waiting).
  returned: always
  type: float
  sample: 12.4
timed_out:
  description: Whether O(timeout) passed with connections left.
  returned: always
  type: bool
  sample: false
left:
  description: Connections still on the server at the end of the wait, summed over its services.
  returned: always
  type: dict
  contains:
    active: {description: Active connections., type: int, returned: success}
    inactive: {description: Inactive connections., type: int, returned: success}
  sample: {active: 0, inactive: 2}
commands:
  description: The C(ipvsadm -R) lines applied (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
  sample: ["-e -t 192.168.206.100:80 -r 192.168.206.128:80 -g -w 0"]
"""

import time
from dataclasses import replace
from typing import Any, Callable, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils.diff import DiffCollector
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError, exit_with
from ansible_collections.lvs.dr.plugins.module_utils.files import read_text
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_drain import (
    STATES,
    TABLE_OWNERS,
    WAIT_FOR,
    DrainRequest,
    Entry,
    applied,
    describe,
    drained,
    entries,
    left,
    removal_lines,
    table_text,
    validate,
    weight_lines,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvsadm import Ipvsadm

ARGUMENT_SPEC: dict[str, Any] = {
    "real_server": {"type": "str", "required": True},
    "port": {"type": "int"},
    "state": {"type": "str", "choices": list(STATES), "default": "drained"},
    "weight": {"type": "int"},
    "wait_for": {"type": "str", "choices": list(WAIT_FOR), "default": "active"},
    "timeout": {"type": "float", "default": 300.0},
    "poll_interval": {"type": "float", "default": 1.0},
    "fail_on_timeout": {"type": "bool", "default": True},
    "table_owner": {"type": "str", "choices": list(TABLE_OWNERS), "default": "ipvsadm"},
}

QUIESCENT_TEMPLATE = "/proc/sys/net/ipv4/vs/expire_quiescent_template"
EXPIRE_NODEST_CONN = "/proc/sys/net/ipv4/vs/expire_nodest_conn"

# replaced by the unit tests
clock: Callable[[], float] = time.monotonic
sleep: Callable[[float], None] = time.sleep


def read(ipvsadm: Ipvsadm, request: DrainRequest) -> list[Entry]:
    """The server's entries with weights, forwarding, thresholds and connection counts: the table as
    ipvs_service reads it (Ipvsadm.read_table: from the kernel directly, or one ipvsadm listing and /proc)."""
    return entries(ipvsadm.read_table(), request)


def wait(ipvsadm: Ipvsadm, request: DrainRequest, found: list[Entry]) -> tuple[list[Entry], float, bool]:
    """Poll until the connections waited for have ended or the timeout passes: (entries, waited, timed_out)."""
    start = clock()
    while not drained(found, request.wait_for):
        elapsed = clock() - start
        if elapsed >= request.timeout:
            return found, round(elapsed, 1), True
        sleep(min(request.poll_interval, request.timeout - elapsed))
        found = read(ipvsadm, request)
        if not found:  # someone else removed it meanwhile
            break
    return found, round(clock() - start, 1), False


def wait_for_owner(ipvsadm: Ipvsadm, request: DrainRequest, found: list[Entry]) -> tuple[list[Entry], float, bool]:
    """Poll until the table shows what keepalived was told (its reload is asynchronous): (entries, waited,
    timed_out)."""
    start = clock()
    while not applied(found, request):
        elapsed = clock() - start
        if elapsed >= request.timeout:
            return found, round(elapsed, 1), True
        sleep(min(request.poll_interval, request.timeout - elapsed))
        found = read(ipvsadm, request)
    return found, round(clock() - start, 1), False


def run_owned(module: AnsibleModule, ipvsadm: Ipvsadm, request: DrainRequest, found: list[Entry],
              what: str) -> dict[str, Any]:
    """table_owner=keepalived: change nothing, wait until keepalived has applied the weight (or the removal),
    then, for a drain, until the connections have ended."""
    weight = request.target_weight
    result: dict[str, Any] = {"changed": False, "removed": False, "waited": 0.0, "timed_out": False, "commands": []}
    if not found and request.state == "drained":
        module.warn(f"{what} is in no virtual service of the live table: keepalived takes a real server out while "
                    "its health check fails and puts it back, with the weight of keepalived.conf, once it passes")
        result.update(services=[], left=left(found))
        return result
    if module.check_mode:  # keepalived.conf was not written: nothing to wait for
        result.update(services=describe(found, None if request.state == "absent" else weight), left=left(found),
                      removed=request.state == "absent" and bool(found))
        return result
    found, waited, timed_out = wait_for_owner(ipvsadm, request, found)
    if timed_out:
        shown = ", ".join(f"{entry.name} weight {entry.server.weight}" for entry in found)
        wanted = "removed it" if request.state == "absent" else f"set weight {weight}"
        raise LvsDrError(f"timeout: keepalived has not {wanted} within {request.timeout:g} s (its reload failed? "
                         f"see its log): {shown}", parameter="timeout", services=describe(found), waited=waited,
                         left=left(found), timed_out=True)
    result["waited"] = waited
    if request.state == "absent":
        result.update(services=[], left=left(found), removed=True)
        return result
    if request.waits and found:
        rest = replace(request, timeout=max(0.0, request.timeout - waited))
        found, waited_more, result["timed_out"] = wait(ipvsadm, rest, found)
        result["waited"] = round(waited + waited_more, 1)
    result["left"] = left(found)
    if result["timed_out"]:
        message = timeout_message(found, request, what, result["left"])
        if request.fail_on_timeout:
            raise LvsDrError(message + "; it stays at weight 0", parameter="timeout", services=describe(found),
                             waited=result["waited"], timed_out=True, left=result["left"])
        module.warn(message)
    result["services"] = describe(found)
    return result


def timeout_message(found: list[Entry], request: DrainRequest, what: str, counts: dict[str, int]) -> str:
    return (f"{what} still has {counts['active']} active and {counts['inactive']} inactive "
            f"connections after {request.timeout:g} s: "
            + ", ".join(f"{entry.name} ({entry.active}/{entry.inactive})" for entry in found))


def quiescent_templates_expire() -> Optional[bool]:
    """The kernel's expire_quiescent_template setting; None when it cannot be read."""
    text = read_text(QUIESCENT_TEMPLATE)
    return None if text is None else text.strip() != "0"


def nodest_connections_expire() -> Optional[bool]:
    """The kernel's expire_nodest_conn setting; None when it cannot be read."""
    text = read_text(EXPIRE_NODEST_CONN)
    return None if text is None else text.strip() != "0"


def check_result(ipvsadm: Ipvsadm, request: DrainRequest, weight: int, removed: bool) -> list[Entry]:
    """Read the table again and prove the change took effect."""
    after = read(ipvsadm, request)
    if removed and after:
        raise LvsDrError(f"real_server: {request.address} is still listed after its removal: "
                         + ", ".join(entry.name for entry in after), parameter="real_server")
    wrong = [entry.name for entry in after if entry.server.weight != weight]
    if not removed and wrong:
        raise LvsDrError(f"weight: the table still has another weight than {weight} after the change: "
                         + ", ".join(wrong), parameter="weight")
    return after


def run(module: AnsibleModule) -> dict[str, Any]:
    """Validate, read, set the weight, wait, remove, re-read, report."""
    request = validate(module.params)
    ipvsadm = Ipvsadm(module)
    found = read(ipvsadm, request)
    what = f"{request.address}" + (f" port {request.port}" if request.port else "")
    if not request.writes:
        return run_owned(module, ipvsadm, request, found, what)
    if not found and request.state != "absent":
        raise LvsDrError(f"real_server: {what} is in no virtual service of the table", parameter="real_server")

    weight = request.target_weight
    commands = weight_lines(found, weight)
    diff = DiffCollector()
    result: dict[str, Any] = {"changed": bool(commands), "removed": False, "waited": 0.0, "timed_out": False}
    if request.state == "absent" and found:
        commands_remove = removal_lines(found)
        result["changed"] = True
    else:
        commands_remove = []
    if any(entry.persistent for entry in found) and request.state != "active" and not quiescent_templates_expire():
        module.warn(f"{what} is in a persistent service: clients with a persistence template keep being sent to it "
                    "at weight 0 until the template expires (set net.ipv4.vs.expire_quiescent_template=1)")

    if module.check_mode:
        diff.add(f"IPVS entries of {what}", table_text(found), table_text(found, weight, bool(commands_remove)))
        result.update(services=describe(found, weight), left=left(found), commands=commands + commands_remove,
                      removed=bool(commands_remove))
        return diff.report(result, module._diff)

    before = table_text(found)
    ipvsadm.restore(commands)
    if commands:
        found = check_result(ipvsadm, request, weight, removed=False)
    applied = list(commands)
    if request.waits and found:
        found, result["waited"], result["timed_out"] = wait(ipvsadm, request, found)
    result["left"] = left(found)
    if result["timed_out"]:
        message = timeout_message(found, request, what, result["left"])
        if request.fail_on_timeout:
            diff.add(f"IPVS entries of {what}", before, table_text(found))
            fields = diff.report({"services": describe(found), "waited": result["waited"], "timed_out": True,
                                  "left": result["left"], "commands": applied, "changed": bool(applied)},
                                 module._diff)
            raise LvsDrError(message + "; it stays at weight 0 and was not removed", parameter="timeout", **fields)
        module.warn(message + ("; removing it cuts them" if commands_remove else ""))
    if commands_remove and found:
        if result["left"]["inactive"] and not nodest_connections_expire():
            module.warn(f"{what} is removed with {result['left']['inactive']} inactive connection entries left: "
                        "until they expire the kernel drops the SYN of a new connection that reuses the client "
                        "port of one (net.ipv4.vs.expire_nodest_conn=0); wait_for=all waits for them")
        removal = removal_lines(found)
        ipvsadm.restore(removal)
        applied += removal
        check_result(ipvsadm, request, weight, removed=True)
        result["removed"] = True
    diff.add(f"IPVS entries of {what}", before, table_text(found, removed=result["removed"]))
    result.update(services=describe(found), commands=applied, changed=bool(applied))
    return diff.report(result, module._diff)


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with(module, lambda: run(module))


if __name__ == "__main__":
    main()
