# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Draining one real server out of every virtual service that lists it: the pure part.

A drain sets the server's weight to 0 in each service (new connections go
elsewhere, established ones carry on), waits until its connections have ended,
and may then remove it; the return sets a weight again. This module finds the
server's entries in a table, plans the ``ipvsadm -R`` lines, and tells from a
fresh listing how many connections are left. Reading, waiting and applying are
the module's (plugins/modules/ipvs_drain.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ansible_collections.lvs.dr.plugins.module_utils.addresses import format_host_port, normalize_ip
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_format import server_line
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import IpvsTable, RealServer, ServiceKey

STATES = ("drained", "absent", "active")
WAIT_FOR = ("active", "all", "none")
TABLE_OWNERS = ("ipvsadm", "keepalived")
MAX_WEIGHT = 65535
MAX_TIMEOUT = 86400.0


@dataclass(frozen=True)
class DrainRequest:
    """The validated task arguments."""

    address: str
    port: Optional[int]
    state: str
    weight: Optional[int]
    wait_for: str
    timeout: float
    poll_interval: float
    fail_on_timeout: bool
    table_owner: str = "ipvsadm"

    @property
    def writes(self) -> bool:
        """Whether the module changes the table itself (keepalived applies its own configuration)."""
        return self.table_owner == "ipvsadm"

    @property
    def target_weight(self) -> int:
        return 0 if self.state != "active" else int(self.weight or 0)

    @property
    def waits(self) -> bool:
        return self.state != "active" and self.wait_for != "none"


@dataclass(frozen=True)
class Entry:
    """The drained server as one virtual service lists it."""

    key: ServiceKey
    server: RealServer
    persistent: bool

    @property
    def name(self) -> str:
        """``TCP 192.0.2.10:80 -> 10.0.0.1:80``, as ipvsadm lists it."""
        service = f"FWM {self.key.fwmark}" if self.key.is_fwmark else \
            f"{self.key.protocol.upper()} {format_host_port(self.key.address, self.key.port)}"
        return f"{service} -> {format_host_port(self.server.address, self.server.port)}"

    @property
    def active(self) -> int:
        return self.server.active_connections or 0

    @property
    def inactive(self) -> int:
        return self.server.inactive_connections or 0


def _number(value: object, parameter: str, minimum: float, maximum: float, integer: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise LvsDrError(f"{parameter}: must be {kind} from {minimum:g} to {maximum:g} (got {value!r})",
                         parameter=parameter)
    if not minimum <= value <= maximum:
        raise LvsDrError(f"{parameter}: must be from {minimum:g} to {maximum:g} (got {value!r})", parameter=parameter)
    return value


def validate(params: dict[str, object]) -> DrainRequest:
    """Everything that can be rejected, before the table is read."""
    try:
        address = normalize_ip(params["real_server"])
    except ValueError as exc:
        raise LvsDrError(f"real_server: {exc} (got {params['real_server']!r})", parameter="real_server") from None
    port = params.get("port")
    if port is not None:
        port = int(_number(port, "port", 1, 65535, integer=True))
    state = str(params["state"])
    weight = params.get("weight")
    if state == "active" and weight is None:
        raise LvsDrError("weight: needed with state=active (the weight the server returns with)", parameter="weight")
    if state != "active" and weight is not None:
        raise LvsDrError(f"weight: only with state=active (got weight={weight!r} with state={state})",
                         parameter="weight")
    if weight is not None:
        weight = int(_number(weight, "weight", 1, MAX_WEIGHT, integer=True))
    timeout = float(_number(params["timeout"], "timeout", 0, MAX_TIMEOUT, integer=False))
    poll = float(_number(params["poll_interval"], "poll_interval", 0.1, 60, integer=False))
    return DrainRequest(address, port, state, weight, str(params["wait_for"]), timeout, poll,
                        bool(params["fail_on_timeout"]), str(params.get("table_owner") or "ipvsadm"))


def entries(table: IpvsTable, request: DrainRequest) -> list[Entry]:
    """Every (service, real server) pair of the table that is the requested server, in table order."""
    found = []
    for service in table.services:
        for server in service.real_servers:
            if server.address == request.address and request.port in (None, server.port):
                found.append(Entry(service.key, server, service.persistent))
    return found


def weight_lines(found: list[Entry], weight: int) -> list[str]:
    """``-e`` lines that set ``weight`` where it differs; forwarding and thresholds are kept."""
    return [server_line("-e", entry.key, replace(entry.server, weight=weight))
            for entry in found if entry.server.weight != weight]


def removal_lines(found: list[Entry]) -> list[str]:
    return [server_line("-d", entry.key, entry.server) for entry in found]


def applied(found: list[Entry], request: DrainRequest) -> bool:
    """Whether the table shows what the owner was told: the server gone (absent), else its target weight."""
    if request.state == "absent":
        return not found
    if request.state == "active" and not found:  # a returning server may still be on its way in
        return False
    return all(entry.server.weight == request.target_weight for entry in found)


def left(found: list[Entry]) -> dict[str, int]:
    """Connections still on the server, summed over its services."""
    return {"active": sum(entry.active for entry in found), "inactive": sum(entry.inactive for entry in found)}


def drained(found: list[Entry], wait_for: str) -> bool:
    """Whether the connections the request waits for have ended."""
    counts = left(found)
    if wait_for == "none":
        return True
    return counts["active"] == 0 and (wait_for == "active" or counts["inactive"] == 0)


def describe(found: list[Entry], weight: Optional[int] = None) -> list[dict[str, object]]:
    """The per-service result: which entry, its weight and connections (``weight``: the planned one)."""
    return [{
        "service": entry.key.to_dict(),
        "entry": entry.name,
        "weight": entry.server.weight if weight is None else weight,
        "active_connections": entry.active,
        "inactive_connections": entry.inactive,
        "persistent": entry.persistent,
    } for entry in found]


def table_text(found: list[Entry], weight: Optional[int] = None, removed: bool = False) -> str:
    """The diff text: one line per entry with its weight."""
    if removed:
        return ""
    return "".join(f"{entry.name} weight {entry.server.weight if weight is None else weight}\n" for entry in found)
