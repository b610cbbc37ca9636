# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired vs live IPVS table -> ordered ``ipvsadm -R`` lines, and save-format rendering.

The plan edits in place: ``-E`` for a changed service, ``-e`` for a changed
real server, ``-a``/``-d`` for added/removed real servers, ``-A``/``-D`` only
for services that must appear or disappear. It never flushes and never looks
at services it was not asked about. Planning is a single pass with dict
lookups: O(number of services + real servers).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cmp_to_key
from typing import Optional

from ansible_collections.lvs.dr.plugins.module_utils.addresses import IPV6, format_host_port, split_host_port
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    FORWARDING_SWITCH,
    FWMARK,
    HOST_NETMASK,
    PROTOCOL_SWITCH,
    IpvsTable,
    RealServer,
    ServiceKey,
    VirtualService,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import DesiredService

_SWITCH_PROTOCOL = {v: k for k, v in PROTOCOL_SWITCH.items()}


@dataclass
class Outcome:
    """What the plan does to one managed service that exists before or after it."""

    service: VirtualService  # as it will be; a removed service as it was
    state: str  # present (exists after the plan) or absent (the plan removes it)
    changed: bool  # the plan adds, edits or removes it


@dataclass
class Plan:
    commands: list[str] = field(default_factory=list)
    # managed services as they are now (live) and as they will be, request order
    before: list[VirtualService] = field(default_factory=list)
    after: list[VirtualService] = field(default_factory=list)
    removed: list[ServiceKey] = field(default_factory=list)
    # request order; a service that is absent and stays absent has none
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.commands)


# --------------------------------------------------------------------------- arguments


def service_options(svc: VirtualService) -> list[str]:
    """Scheduler/persistence options of a service, in the order ``ipvsadm -S`` prints them."""
    args = ["-s", svc.scheduler]
    if svc.persistent:
        args += ["-p", str(svc.persistence_timeout)]
        if svc.persistence_netmask != HOST_NETMASK[svc.key.family]:
            args += ["-M", svc.persistence_netmask]
    if svc.persistence_engine:
        args += ["--pe", svc.persistence_engine]
    if svc.one_packet:
        args.append("-o")
    if svc.scheduler_flags:
        args += ["-b", ",".join(svc.scheduler_flags)]
    return args


def _forwarding_switch(rs: RealServer) -> str:
    return FORWARDING_SWITCH.get("dr" if rs.forwarding == "local" else rs.forwarding, "-g")


def server_options(rs: RealServer) -> list[str]:
    args = [_forwarding_switch(rs), "-w", str(rs.weight)]
    if rs.upper_threshold:
        args += ["-x", str(rs.upper_threshold)]
    if rs.lower_threshold:
        args += ["-y", str(rs.lower_threshold)]
    return args


def _line(*parts: Sequence[str]) -> str:
    return " ".join(word for part in parts for word in part)


def add_service_line(svc: VirtualService) -> str:
    return _line(["-A"], svc.key.ipvsadm_args(), service_options(svc))


def edit_service_line(svc: VirtualService) -> str:
    return _line(["-E"], svc.key.ipvsadm_args(), service_options(svc))


def delete_service_line(key: ServiceKey) -> str:
    return _line(["-D"], key.ipvsadm_args())


def server_line(command: str, key: ServiceKey, rs: RealServer) -> str:
    target = ["-r", format_host_port(rs.address, rs.port)]
    if command == "-d":
        return _line([command], key.ipvsadm_args(), target)
    return _line([command], key.ipvsadm_args(), target, server_options(rs))


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
                result.removed.append(key)
                result.outcomes.append(Outcome(current, "absent", True))
            continue
        # the requested service is the target as it is; the plan never modifies it (nor the live table)
        target = entry.service
        issued = len(result.commands)
        if current is None:
            result.commands.append(add_service_line(target))
            result.commands.extend(server_line("-a", key, rs) for rs in target.real_servers)
        else:
            if (current.one_packet, current.persistence_engine) != (target.one_packet, target.persistence_engine):
                # attributes this module does not manage survive an edit: a new target that carries them
                target = replace(target, one_packet=current.one_packet, persistence_engine=current.persistence_engine)
            if current.config() != target.config():
                result.commands.append(edit_service_line(target))
            result.commands.extend(_plan_servers(key, current, target))
        result.after.append(target)
        result.outcomes.append(Outcome(target, "present", len(result.commands) > issued))
    return result


def _plan_servers(key: ServiceKey, current: VirtualService, target: VirtualService) -> list[str]:
    live_servers = current.servers_by_key()
    wanted = target.servers_by_key()
    removals = [server_line("-d", key, rs) for rs in current.real_servers if rs.key not in wanted]
    edits: list[str] = []
    additions: list[str] = []
    for rs in target.real_servers:
        existing = live_servers.get(rs.key)
        if existing is None:
            additions.append(server_line("-a", key, rs))
        elif existing.config() != rs.config():
            edits.append(server_line("-e", key, rs))
    return removals + edits + additions


# --------------------------------------------------------------------------- save format


def _c_int(value: int) -> int:
    """The int result of a C subtraction of two 32-bit unsigned values."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value & 0x80000000 else value


def _address_words(address: str) -> list[int]:
    ip = ipaddress.ip_address(address)
    packed = ip.packed
    return [int.from_bytes(packed[i : i + 4], "big") for i in range(0, len(packed), 4)]


def _cmp_addresses(a: str, a_is_v6: bool, b: str) -> int:
    wa, wb = _address_words(a) if a else [0], _address_words(b) if b else [0]
    wa += [0] * (4 - len(wa))
    wb += [0] * (4 - len(wb))
    if a_is_v6:
        for x, y in zip(wa, wb):
            r = _c_int(x - y)
            if r:
                return r
        return 0
    return _c_int(wa[0] - wb[0])


def ipvsadm_compare_services(a: ServiceKey, b: ServiceKey) -> int:
    """ipvs_cmp_services() of libipvs, including its 32-bit wrap-around."""
    r = _c_int(a.fwmark - b.fwmark)
    if r:
        return r
    af = {"ipv4": 2, "ipv6": 10}
    r = af[a.family] - af[b.family]
    if r:
        return r
    r = a.protocol_number - b.protocol_number
    if r:
        return r
    r = _cmp_addresses(a.address, a.family == IPV6, b.address)
    if r:
        return r
    return a.port - b.port


def ipvsadm_compare_servers(a: RealServer, b: RealServer) -> int:
    """ipvs_cmp_dests() of libipvs."""
    r = _cmp_addresses(a.address, ":" in a.address, b.address)
    if r:
        return r
    return a.port - b.port


def render_service(svc: VirtualService) -> list[str]:
    """Lines ``ipvsadm -Sn`` (1.31) prints for one service, real servers in libipvs's order."""
    lines = [add_service_line(svc)]
    servers = sorted(svc.real_servers, key=cmp_to_key(ipvsadm_compare_servers))
    selector = svc.key.ipvsadm_args()
    for rs in servers:
        words = ["-a", *selector, "-r", format_host_port(rs.address, rs.port), _forwarding_switch(rs), "-w",
                 str(rs.weight)]
        if rs.forwarding == "tunnel":
            words += ["--tun-type", "ipip"]
        lines.append(" ".join(words))
    return lines


def render_services(services: Sequence[VirtualService]) -> str:
    """Save-format text of the given services, in the given order (used for diffs)."""
    return "".join(line + "\n" for svc in services for line in render_service(svc))


def parse_save_key(line: str) -> Optional[ServiceKey]:
    """The service key of a ``-A``/``-a`` line of ``ipvsadm -Sn`` output (None if not a rule)."""
    words = line.split()
    if len(words) < 3 or words[0] not in ("-A", "-a"):
        return None
    switch, value = words[1], words[2]
    if switch == "-f":
        family = IPV6 if len(words) > 3 and words[3] == "-6" else "ipv4"
        mark = int(value)
        return ServiceKey(FWMARK, family, fwmark=mark + 2**32 if mark < 0 else mark)
    if switch not in _SWITCH_PROTOCOL:
        return None
    address, port = split_host_port(value)
    return ServiceKey(_SWITCH_PROTOCOL[switch], IPV6 if ":" in address else "ipv4", address, port or 0)


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
