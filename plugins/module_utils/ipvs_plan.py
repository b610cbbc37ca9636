# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired vs live IPVS table -> ordered operations (and their ``ipvsadm -R`` lines), and the save file they lead to.

The plan edits in place: ``-E`` for a changed service, ``-e`` for a changed
real server, ``-a``/``-d`` for added/removed real servers, ``-A``/``-D`` only
for services that must appear or disappear. It never flushes and never looks
at services it was not asked about. Planning is a single pass with dict
lookups: O(number of services + real servers). Each line has its operation
beside it (:class:`ipvs_netlink.Operation`), what the module sends the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cmp_to_key
from typing import Optional

from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import (
    add_service_line,
    delete_service_line,
    edit_service_line,
    ipvsadm_compare_services,
    parse_save_key,
    render_service,
    render_services,
    server_line,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    DesiredService,
    IpvsTable,
    RealServer,
    ServiceKey,
    VirtualService,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_netlink import Operation
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_uapi import (
    CMD_DEL_DEST,
    CMD_DEL_SERVICE,
    CMD_NEW_DEST,
    CMD_NEW_SERVICE,
    CMD_SET_DEST,
    CMD_SET_SERVICE,
)

_SERVER_COMMANDS = {"-a": CMD_NEW_DEST, "-e": CMD_SET_DEST, "-d": CMD_DEL_DEST}


@dataclass
class Outcome:
    """What the plan does to one managed service that exists before or after it."""

    service: VirtualService  # as it will be; a removed service as it was
    state: str  # present (exists after the plan) or absent (the plan removes it)
    changed: bool  # the plan adds, edits or removes it


@dataclass
class Plan:
    commands: list[str] = field(default_factory=list)
    # what each line does, for the kernel (same order, same length)
    operations: list[Operation] = field(default_factory=list)
    # managed services as they are now (live) and as they will be, request order
    before: list[VirtualService] = field(default_factory=list)
    after: list[VirtualService] = field(default_factory=list)
    removed: list[ServiceKey] = field(default_factory=list)
    # request order; a service that is absent and stays absent has none
    outcomes: list[Outcome] = field(default_factory=list)
    # services whose scheduler the plan changes: (key, old scheduler, new scheduler)
    scheduler_changes: list[tuple[ServiceKey, str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.commands)


# --------------------------------------------------------------------------- planning


def plan(desired: Sequence[DesiredService], live: IpvsTable) -> Plan:
    """Compute the ``ipvsadm -R`` lines that turn ``live`` into ``desired``."""
    result = Plan()
    live_by_key = live.by_key()
    for entry in desired:
        key = entry.service.key
        current = live_by_key.get(key)
        if current is not None:
            result.before.append(current)
        if entry.state == "absent":
            if current is not None:
                result.commands.append(delete_service_line(key))
                result.operations.append(Operation(CMD_DEL_SERVICE, key))
                result.removed.append(key)
                result.outcomes.append(Outcome(current, "absent", True))
            continue
        # the requested service is the target as it is; the plan never modifies it (nor the live table)
        target = entry.service
        issued = len(result.commands)
        if current is None:
            result.commands.append(add_service_line(target))
            result.operations.append(Operation(CMD_NEW_SERVICE, key, target))
            selector = key.rule()
            for rs in target.real_servers:
                result.commands.append(server_line("-a", key, rs, selector))
                result.operations.append(Operation(CMD_NEW_DEST, key, rs))
        else:
            if (current.one_packet, current.persistence_engine) != (target.one_packet, target.persistence_engine):
                # attributes this module does not manage survive an edit: a new target that carries them
                target = replace(target, one_packet=current.one_packet, persistence_engine=current.persistence_engine)
            if current.config() != target.config():
                result.commands.append(edit_service_line(target))
                result.operations.append(Operation(CMD_SET_SERVICE, key, target))
                if current.scheduler != target.scheduler:
                    result.scheduler_changes.append((key, current.scheduler, target.scheduler))
            selector = key.rule()
            for command, rs in _plan_servers(current, target):
                result.commands.append(server_line(command, key, rs, selector))
                result.operations.append(Operation(_SERVER_COMMANDS[command], key, rs))
        result.after.append(target)
        result.outcomes.append(Outcome(target, "present", len(result.commands) > issued))
    return result


def _plan_servers(current: VirtualService, target: VirtualService) -> list[tuple[str, RealServer]]:
    """(ipvsadm command, real server): removals, then edits, then additions."""
    live_servers = current.servers_by_key()
    wanted = target.servers_by_key()
    removals = [("-d", rs) for rs in current.real_servers if rs.key not in wanted]
    edits: list[tuple[str, RealServer]] = []
    additions: list[tuple[str, RealServer]] = []
    for rs in target.real_servers:
        existing = live_servers.get(rs.key)
        if existing is None:
            additions.append(("-a", rs))
        elif existing.config() != rs.config():
            edits.append(("-e", rs))
    return removals + edits + additions


def predict_save(saved_now: str, result: Plan) -> str:
    """Predict ``ipvsadm -Sn`` after applying ``result`` to a table whose ``-Sn`` is ``saved_now``.

    Blocks of services the plan does not touch are kept verbatim; managed
    blocks are re-rendered; the block order is libipvs's sort order.
    """
    blocks: dict[ServiceKey, list[str]] = {}
    current: Optional[ServiceKey] = None
    for line in saved_now.splitlines():
        key = parse_save_key(line)
        if key is None:
            continue
        if line.startswith("-A"):
            current = key
            blocks[key] = [line]
        elif current is not None:
            blocks[current].append(line)
    for key in result.removed:
        blocks.pop(key, None)
    for svc in result.after:
        blocks[svc.key] = render_service(svc)
    keys = sorted(blocks, key=cmp_to_key(ipvsadm_compare_services))
    return "".join(line + "\n" for key in keys for line in blocks[key])


def summarize(result: Plan, only_changed: bool = True) -> list[dict[str, object]]:
    """The ``services`` return value: each service's dict plus its ``state``, request order.

    ``only_changed`` keeps the services the plan adds, edits or removes; otherwise every managed
    service that exists after the plan is listed too.
    """
    out: list[dict[str, object]] = []
    for outcome in result.outcomes:
        if outcome.changed or not only_changed:
            data = outcome.service.to_dict()
            data["state"] = outcome.state
            out.append(data)
    return out


def diff_texts(result: Plan) -> tuple[str, str]:
    """(before, after) save-format text of the managed services."""
    return render_services(result.before), render_services(result.after)
