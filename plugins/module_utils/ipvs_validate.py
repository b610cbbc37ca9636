# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of ipvs_service / ipvs_info input: pure functions, no host access.

Every error is a :class:`ValidationError` whose message names the parameter
(``services[3].real_servers[1].weight``) and the offending value, so a module
can fail with it before it runs ipvsadm at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.addresses import (
    CANONICAL_IPV4,
    IPV4,
    ip_family,
    ipv4_netmask,
    ipv6_prefix_length,
    normalize_ip,
)
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    DEFAULT_SCHEDULER,
    DEFAULT_STATE,
    DEFAULT_WEIGHT,
    FAMILIES,
    FORWARDING_METHODS,
    FWMARK,
    FWMARK_EXCLUSIVE,
    GENERIC_SCHEDULER_FLAGS,
    MAX_FWMARK,
    MAX_PERSISTENCE_TIMEOUT,
    MAX_THRESHOLD,
    MAX_WEIGHT,
    PROTOCOLS,
    REAL_SERVER_OPTIONS,
    SCHEDULER_FLAGS,
    SCHEDULERS,
    SERVICES_EXCLUSIVE,
    SINGLE_SERVICE_OPTIONS,
    STATES,
    DesiredService,
    RealServer,
    ServiceKey,
    VirtualService,
)

_MISSING = object()


class ValidationError(LvsDrError, ValueError):
    """Bad input; ``str()`` names the parameter and the bad value; the failure reports ``parameter``."""

    def __init__(self, parameter: str, value: Any, reason: str) -> None:
        shown = "" if value is _MISSING else f" (got {value!r})"
        super().__init__(f"{parameter}: {reason}{shown}", parameter=parameter)
        self.parameter = parameter
        self.value = value
        self.reason = reason


def _name(prefix: str, option: str) -> str:
    return f"{prefix}.{option}" if prefix else option


def allowed_scheduler_flags(scheduler: str) -> tuple[str, ...]:
    return SCHEDULER_FLAGS.get(scheduler, GENERIC_SCHEDULER_FLAGS)


def _integer(value: Any, parameter: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool):
        raise ValidationError(parameter, value, "must be an integer")
    if isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip(), 10)
        except ValueError:
            raise ValidationError(parameter, value, "must be an integer") from None
    if not minimum <= number <= maximum:
        raise ValidationError(parameter, value, f"must be between {minimum} and {maximum}")
    return number


def _choice(value: Any, parameter: str, choices: Sequence[str], what: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValidationError(parameter, value, f"unknown {what}, expected one of {', '.join(choices)}")
    return value


def _address(value: Any, parameter: str) -> str:
    try:
        return normalize_ip(value)
    except ValueError as exc:
        raise ValidationError(parameter, value, str(exc)) from None


def validate_service_key(params: Mapping[str, Any], prefix: str = "") -> ServiceKey:
    """Check the identity options (protocol/address/port or fwmark/family).

    ``port`` 0 is accepted only when ``allow_port_zero`` is set in params (a
    persistent all-ports service, as ipvsadm allows).
    """
    fwmark = params.get("fwmark")
    address = params.get("address")
    if fwmark is not None:
        for option in FWMARK_EXCLUSIVE:
            if params.get(option) is not None:
                raise ValidationError(_name(prefix, option), params[option], "cannot be combined with fwmark")
        mark = _integer(fwmark, _name(prefix, "fwmark"), 1, MAX_FWMARK)
        family = params.get("family") or IPV4
        _choice(family, _name(prefix, "family"), FAMILIES, "address family")
        return ServiceKey(FWMARK, family, fwmark=mark)
    if address is None:
        raise ValidationError(_name(prefix, "address"), _MISSING, "is required unless fwmark is given")
    if params.get("family") is not None:
        raise ValidationError(
            _name(prefix, "family"), params["family"], "is only used with fwmark (an address sets the family)"
        )
    protocol = params.get("protocol") or "tcp"
    _choice(protocol, _name(prefix, "protocol"), PROTOCOLS, "protocol")
    vip = _address(address, _name(prefix, "address"))
    port = params.get("port")
    if port is None:
        raise ValidationError(_name(prefix, "port"), _MISSING, "is required with address")
    minimum = 0 if params.get("allow_port_zero") else 1
    if port == 0 and minimum == 1:
        raise ValidationError(
            _name(prefix, "port"), port, "must be between 1 and 65535 (0 only for a persistent service)"
        )
    port = _integer(port, _name(prefix, "port"), minimum, 65535)
    return ServiceKey(protocol, ip_family(vip), vip, port)


def _scheduler_flags(value: Any, scheduler: str, parameter: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [v for v in value.split(",") if v]
    if not isinstance(value, (list, tuple)):
        raise ValidationError(parameter, value, "must be a list of scheduler flags")
    allowed = allowed_scheduler_flags(scheduler)
    for index, flag in enumerate(value):
        if flag not in allowed:
            raise ValidationError(
                f"{parameter}[{index}]",
                flag,
                f"unknown scheduler flag for scheduler {scheduler}, expected one of {', '.join(allowed)}",
            )
    return tuple(sorted(set(value)))


def _netmask(value: Any, family: str, parameter: str) -> str:
    try:
        if family == IPV4:
            return ipv4_netmask(value)
        return str(ipv6_prefix_length(value))
    except ValueError as exc:
        raise ValidationError(parameter, value, str(exc)) from None


def _known_options(params: Mapping[str, Any], known: Sequence[str], parameter: str) -> None:
    """Unknown keys in one dictionary entry fail, as Ansible's own option check would."""
    unknown = sorted(str(name) for name in params if name not in known)
    if unknown:
        raise ValidationError(
            parameter, unknown, f"unsupported option(s) {', '.join(unknown)}; supported: {', '.join(known)}"
        )


def validate_real_server(params: Mapping[str, Any], key: ServiceKey, prefix: str) -> RealServer:
    if not isinstance(params, Mapping):
        raise ValidationError(prefix, params, "must be a dictionary with at least address")
    _known_options(params, REAL_SERVER_OPTIONS, prefix)
    if params.get("address") is None:
        raise ValidationError(_name(prefix, "address"), _MISSING, "is required")
    address = _address(params["address"], _name(prefix, "address"))
    forwarding = params.get("forwarding") or "dr"
    _choice(forwarding, _name(prefix, "forwarding"), FORWARDING_METHODS, "forwarding method")
    family = ip_family(address)
    if family != key.family and forwarding != "tunnel":
        raise ValidationError(
            _name(prefix, "address"),
            params["address"],
            f"is {family} but the virtual service is {key.family}; only tunnel forwarding may mix families",
        )
    port = params.get("port")
    if port is not None:
        port = _integer(port, _name(prefix, "port"), 0 if key.is_fwmark else 1, 65535)
    if key.is_fwmark:
        port = port or 0
    elif forwarding in ("dr", "tunnel"):
        # ipvsadm forces the service port for dr/tunnel; a different port could never converge
        if port is not None and port != key.port:
            raise ValidationError(
                _name(prefix, "port"), port, f"must equal the service port {key.port} with {forwarding} forwarding"
            )
        port = key.port
    elif port is None:
        port = key.port
    weight = _integer(params.get("weight") if params.get("weight") is not None else DEFAULT_WEIGHT,
                      _name(prefix, "weight"), 0, MAX_WEIGHT)
    upper = _integer(params.get("upper_threshold") or 0, _name(prefix, "upper_threshold"), 0, MAX_THRESHOLD)
    lower = _integer(params.get("lower_threshold") or 0, _name(prefix, "lower_threshold"), 0, MAX_THRESHOLD)
    if upper > 0 and lower > upper:
        raise ValidationError(
            _name(prefix, "lower_threshold"), lower, f"must not exceed upper_threshold ({upper})"
        )
    return RealServer(address, port, forwarding, weight, upper, lower)


def validate_service(params: Mapping[str, Any], prefix: str = "") -> DesiredService:
    """Validate one service's options (top level or one ``services`` entry)."""
    if not isinstance(params, Mapping):
        raise ValidationError(prefix or "services", params, "must be a dictionary")
    state = params.get("state") or DEFAULT_STATE
    _choice(state, _name(prefix, "state"), STATES, "state")
    timeout = params.get("persistence_timeout")
    key_params = dict(params)
    key_params["allow_port_zero"] = timeout is not None
    key = validate_service_key(key_params, prefix)
    if state == "absent":
        return DesiredService(state, VirtualService(key=key), prefix)
    scheduler = params.get("scheduler") or DEFAULT_SCHEDULER
    _choice(scheduler, _name(prefix, "scheduler"), SCHEDULERS, "scheduler")
    flags = _scheduler_flags(params.get("scheduler_flags"), scheduler, _name(prefix, "scheduler_flags"))
    if timeout is not None:
        timeout = _integer(timeout, _name(prefix, "persistence_timeout"), 1, MAX_PERSISTENCE_TIMEOUT)
    netmask = ""
    if params.get("persistence_netmask") is not None:
        if timeout is None:
            raise ValidationError(
                _name(prefix, "persistence_netmask"), params["persistence_netmask"], "requires persistence_timeout"
            )
        netmask = _netmask(params["persistence_netmask"], key.family, _name(prefix, "persistence_netmask"))
    servers_param = params.get("real_servers") or []
    if not isinstance(servers_param, (list, tuple)):
        raise ValidationError(_name(prefix, "real_servers"), servers_param, "must be a list")
    servers: list[RealServer] = []
    seen: dict[tuple[str, int], int] = {}
    for index, item in enumerate(servers_param):
        item_prefix = f"{_name(prefix, 'real_servers')}[{index}]"
        rs = validate_real_server(item, key, item_prefix)
        if rs.key in seen:
            raise ValidationError(
                item_prefix,
                item.get("address") if isinstance(item, Mapping) else item,
                f"duplicates real_servers[{seen[rs.key]}] ({rs.address} port {rs.port})",
            )
        seen[rs.key] = index
        servers.append(rs)
    service = VirtualService(
        key=key,
        scheduler=scheduler,
        scheduler_flags=flags,
        persistence_timeout=timeout,
        persistence_netmask=netmask,
        real_servers=servers,
    )
    return DesiredService(state, service, prefix)


# The common shape of a ``services`` entry at scale: a present TCP/UDP/SCTP service on a canonical IPv4 address
# with a scheduler and DR real servers (address, weight, at most the service's port). _plain_service builds it
# directly; anything else, or anything it cannot accept as it is, goes through validate_service, which gives the
# same result or names the error. At 10,000 services x 3 real servers this is most of validate_request's time.
_PLAIN_SERVICE_OPTIONS = frozenset(("address", "port", "protocol", "scheduler", "real_servers", "state"))
_PLAIN_SERVER_OPTIONS = frozenset(("address", "port", "weight", "forwarding"))
_PLAIN_PROTOCOLS = frozenset(PROTOCOLS)
_PLAIN_SCHEDULERS = frozenset(SCHEDULERS)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _plain_service(raw: dict[str, Any], default_state: Any, parameter: str) -> Optional[DesiredService]:
    """The common case of one ``services`` entry, or None to let :func:`validate_service` decide."""
    if not _PLAIN_SERVICE_OPTIONS.issuperset(raw) or (raw.get("state") or default_state) != "present":
        return None
    address, port = raw.get("address"), raw.get("port")
    protocol = raw.get("protocol") or "tcp"
    scheduler = raw.get("scheduler") or DEFAULT_SCHEDULER
    servers_param = raw.get("real_servers") or []
    if (not isinstance(address, str) or not _is_int(port) or not 1 <= port <= 65535
            or not isinstance(protocol, str) or protocol not in _PLAIN_PROTOCOLS
            or not isinstance(scheduler, str) or scheduler not in _PLAIN_SCHEDULERS
            or not isinstance(servers_param, list) or not CANONICAL_IPV4.fullmatch(address)):
        return None
    servers: list[RealServer] = []
    seen: set[str] = set()
    for item in servers_param:
        if not isinstance(item, dict) or not _PLAIN_SERVER_OPTIONS.issuperset(item):
            return None
        rip, rs_port, weight = item.get("address"), item.get("port"), item.get("weight")
        if weight is None:
            weight = DEFAULT_WEIGHT
        if (not isinstance(rip, str) or not CANONICAL_IPV4.fullmatch(rip) or rip in seen
                or (rs_port is not None and (not _is_int(rs_port) or rs_port != port))
                or (item.get("forwarding") or "dr") != "dr"
                or not _is_int(weight) or not 0 <= weight <= MAX_WEIGHT):
            return None
        seen.add(rip)
        servers.append(RealServer(rip, port, "dr", weight, 0, 0))
    key = ServiceKey(protocol, IPV4, address, port)
    return DesiredService("present", VirtualService(key, scheduler, real_servers=servers), parameter)


def validate_request(params: Mapping[str, Any], fast: bool = True) -> list[DesiredService]:
    """Turn the module parameters into the list of desired services.

    Either ``services`` (a list) or the single-service options at the top level.
    Duplicate service keys in ``services`` are rejected. ``fast=False`` sends every entry through
    :func:`validate_service` (the tests compare both ways).
    """
    services = params.get("services")
    if services is None:
        return [validate_service({k: params.get(k) for k in SINGLE_SERVICE_OPTIONS}, "")]
    if not isinstance(services, (list, tuple)):
        raise ValidationError("services", services, "must be a list of dictionaries")
    for option in SERVICES_EXCLUSIVE:
        if params.get(option) is not None:
            raise ValidationError(option, params[option], "cannot be combined with services")
    desired: list[DesiredService] = []
    seen: dict[ServiceKey, int] = {}
    default_state = params.get("state") or DEFAULT_STATE
    for index, raw in enumerate(services):
        prefix = f"services[{index}]"
        entry = _plain_service(raw, default_state, prefix) if fast and isinstance(raw, dict) else None
        if entry is None:
            if isinstance(raw, Mapping):
                _known_options(raw, SINGLE_SERVICE_OPTIONS, prefix)
            item = {**raw, "state": raw.get("state") or default_state} if isinstance(raw, Mapping) else raw
            entry = validate_service(item, prefix)
        key = entry.service.key
        if key in seen:
            raise ValidationError(prefix, _describe_key(key), f"duplicates services[{seen[key]}]")
        seen[key] = index
        desired.append(entry)
    return desired


def _describe_key(key: ServiceKey) -> str:
    return key.rule()


def validate_save_path(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("/") or value.endswith("/"):
        raise ValidationError("save_path", value, "must be an absolute file path")
    return value
