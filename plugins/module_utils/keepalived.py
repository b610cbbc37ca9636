# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""keepalived.conf data for the director role: validation and the model the template renders.

Pure functions, no host access. :func:`build_config` takes the same service list
that ``lvs.dr.ipvs_service`` takes (``director_services`` or the one service of
the single-service variables), the health-check settings and the VRRP group,
and returns ``{"errors": [...], "virtual_servers": [...], "vrrp": {...}}``.
Every error names the role variable and the bad value; the role fails on them
before it changes anything.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import ValidationError, validate_request

CHECK_TYPES = ("HTTP_GET", "SSL_GET", "TCP_CHECK")
HTTP_TYPES = ("HTTP_GET", "SSL_GET")
# Options of a health check, as keys of director_health_check / services[].health_check.
CHECK_OPTIONS = ("type", "path", "status_code", "connect_timeout", "retry", "delay_before_retry", "delay_loop",
                 "connect_port")
# Keys of a director_services entry that only keepalived reads; ipvs_service does not know them.
KEEPALIVED_SERVICE_KEYS = ("health_check", "inhibit_on_failure", "sorry_server")
DEFAULT_CHECK: dict[str, Any] = {"type": "TCP_CHECK", "path": "/", "status_code": 200, "connect_timeout": 3,
                                 "retry": 3, "delay_before_retry": 2, "delay_loop": 6}
DEFAULT_PRIORITY = 100


def _int(value: Any, name: str, minimum: int, maximum: int, errors: list[str]) -> Optional[int]:
    if isinstance(value, bool):
        errors.append(f"{name}: must be an integer between {minimum} and {maximum} (got {value!r})")
        return None
    try:
        number = int(str(value).strip(), 10)
    except ValueError:
        errors.append(f"{name}: must be an integer between {minimum} and {maximum} (got {value!r})")
        return None
    if not minimum <= number <= maximum:
        errors.append(f"{name}: must be between {minimum} and {maximum} (got {value!r})")
        return None
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def health_check(defaults: Mapping[str, Any], override: Any, name: str, errors: list[str]) -> dict[str, Any]:
    """The merged, checked health check of one service; ``name`` is the variable it came from."""
    if override is not None and not isinstance(override, Mapping):
        errors.append(f"{name}: must be a dictionary of {', '.join(CHECK_OPTIONS)} (got {override!r})")
        override = {}
    merged = {**DEFAULT_CHECK, **(defaults or {}), **(override or {})}
    unknown = sorted(set(merged) - set(CHECK_OPTIONS))
    if unknown:
        errors.append(f"{name}: unknown option(s) {', '.join(unknown)}; known: {', '.join(CHECK_OPTIONS)}")
    check: dict[str, Any] = {"type": merged["type"]}
    if merged["type"] not in CHECK_TYPES:
        errors.append(f"{name}.type: unknown health check type {merged['type']!r}; "
                      f"expected one of {', '.join(CHECK_TYPES)}")
    for option, minimum, maximum in (("connect_timeout", 1, 3600), ("retry", 0, 100),
                                     ("delay_before_retry", 0, 3600), ("delay_loop", 1, 86400)):
        check[option] = _int(merged[option], f"{name}.{option}", minimum, maximum, errors)
    if merged.get("connect_port") is not None:
        check["connect_port"] = _int(merged["connect_port"], f"{name}.connect_port", 1, 65535, errors)
    if merged["type"] in HTTP_TYPES:
        path = merged["path"]
        if not isinstance(path, str) or not path.startswith("/") or any(c.isspace() for c in path):
            errors.append(f"{name}.path: an HTTP path starts with '/' and has no spaces (got {path!r})")
        check["path"] = path
        check["status_code"] = _int(merged["status_code"], f"{name}.status_code", 100, 599, errors)
    return check


def sorry_server(value: Any, port: int, name: str, errors: list[str]) -> Optional[dict[str, Any]]:
    """``{address, port}`` of a sorry server given as a dictionary or an address; None when unset."""
    if value in (None, "", {}):
        return None
    if isinstance(value, str):
        value = {"address": value}
    if not isinstance(value, Mapping) or not value.get("address"):
        errors.append(f"{name}: must be an address or a dictionary with address and optional port (got {value!r})")
        return None
    try:
        address = str(ipaddress.ip_address(str(value["address"])))
    except ValueError:
        errors.append(f"{name}.address: not an IP address (got {value['address']!r})")
        return None
    chosen = value.get("port") if value.get("port") is not None else port
    number = _int(chosen, f"{name}.port", 1, 65535, errors)
    return {"address": address, "port": number}


def _service_name(variable: str, index: int) -> str:
    return f"{variable}[{index}]" if variable == "director_services" else variable


def _parameter(error: ValidationError, variable: str) -> str:
    """ipvs_validate names ``services[0].real_servers[1].weight``: name the role variable instead."""
    text = str(error)
    if variable == "director_services":
        return "director_" + text
    # The one service built from the single-service variables.
    for ours, theirs in (("services[0].real_servers", "director_real_servers"), ("services[0].address", "director_vip"),
                         ("services[0].", "director_")):
        text = text.replace(ours, theirs, 1)
    return text


def virtual_servers(services: Sequence[Mapping[str, Any]], options: Mapping[str, Any],
                    errors: list[str]) -> list[dict[str, Any]]:
    """The virtual_server blocks, from the ipvs_service-format services plus the keepalived-only keys."""
    variable = options.get("variable") or "director_services"
    if not isinstance(services, Sequence) or isinstance(services, (str, bytes)):
        errors.append(f"{variable}: must be a list of services (got {services!r})")
        return []
    plain = [{k: v for k, v in entry.items() if k not in KEEPALIVED_SERVICE_KEYS} if isinstance(entry, Mapping)
             else entry for entry in services]
    try:
        desired = validate_request({"services": plain})
    except ValidationError as exc:
        errors.append(_parameter(exc, variable))
        return []
    marks = set()
    for mark in options.get("firewall_marks") or []:
        number = _int(mark, "director_firewall_marks", 1, 4294967295, errors)
        if number is not None:
            marks.add(number)
    blocks: list[dict[str, Any]] = []
    for index, (entry, wanted) in enumerate(zip(services, desired)):
        if wanted.state != "present":
            continue
        name = _service_name(variable, index)
        service = wanted.service
        key = service.key
        check_name = f"{name}.health_check" if entry.get("health_check") is not None else "director_health_check"
        check = health_check(options.get("health_check") or {}, entry.get("health_check"), check_name, errors)
        if key.is_fwmark and key.fwmark not in marks:
            errors.append(f"{name}.fwmark: mark {key.fwmark} is not one the firewall sets "
                          f"(director_firewall_marks: {sorted(marks)}); keepalived would balance nothing")
        inhibit = entry.get("inhibit_on_failure")
        servers = []
        for rs_index, server in enumerate(service.real_servers):
            rs_name = (f"{name}.real_servers[{rs_index}]" if variable == "director_services"
                       else f"director_real_servers[{rs_index}]")
            if server.forwarding != "dr":
                errors.append(f"{rs_name}.forwarding: keepalived mode declares direct routing only "
                              f"(lvs_method DR; got {server.forwarding!r})")
            port = server.port or check.get("connect_port")
            if not port:
                errors.append(f"{rs_name}.port: a firewall-mark service's real servers need a port in keepalived "
                              f"mode (the health check connects to it), or set {check_name}.connect_port")
            servers.append({"address": server.address, "port": port, "weight": server.weight,
                            "upper_threshold": server.upper_threshold, "lower_threshold": server.lower_threshold})
        sorry = sorry_server(
            entry.get("sorry_server") if entry.get("sorry_server") is not None else options.get("sorry_server"),
            key.port, f"{name}.sorry_server" if entry.get("sorry_server") is not None else "director_sorry_server",
            errors)
        if sorry and any((rs["address"], rs["port"]) == (sorry["address"], sorry["port"]) for rs in servers):
            errors.append(f"{name}.sorry_server: {sorry['address']} port {sorry['port']} is also a real server of "
                          f"the service; keepalived would use it for both (keepalived -t fails)")
        blocks.append({
            "name": name,
            "fwmark": key.fwmark if key.is_fwmark else None,
            "family": key.family,
            "address": key.address,
            "port": key.port,
            "protocol": "TCP" if key.is_fwmark else key.protocol.upper(),
            "scheduler": service.scheduler,
            "persistence_timeout": service.persistence_timeout,
            # ipvs_validate fills in one address (the kernel's default): keepalived needs no line for it.
            "persistence_granularity": "" if service.persistence_netmask in ("255.255.255.255", "128")
            else service.persistence_netmask,
            "check": check,
            "inhibit_on_failure": _bool(options.get("inhibit_on_failure") if inhibit is None else inhibit),
            "sorry_server": sorry,
            "real_servers": servers,
        })
    return blocks


def vrrp_members(hosts: Sequence[str], hostvars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each director of the VRRP group: priority, address (director_vrrp_address, else its NIC's, else default IPv4)."""
    members = []
    for host in hosts:
        host_vars = hostvars[host]
        address = host_vars.get("director_vrrp_address")
        if not address:
            facts = host_vars.get("ansible_facts") or {}
            default = facts.get("default_ipv4") or {}
            interface = str(host_vars.get("director_interface") or default.get("interface") or "")
            nic = facts.get(interface.replace("-", "_")) or {}
            address = (nic.get("ipv4") or {}).get("address") or default.get("address", "")
        priority = host_vars.get("director_vrrp_priority")
        members.append({"host": host, "address": address,
                        "priority": DEFAULT_PRIORITY if priority is None else priority})
    return members


def vrrp(options: Mapping[str, Any], errors: list[str]) -> dict[str, Any]:
    """The vrrp_instance: this host's state, priority and unicast peers."""
    settings = options.get("vrrp") or {}
    me = settings.get("host")
    members = list(settings.get("members") or [])
    router_id = _int(settings.get("router_id"), "director_vrrp_router_id", 1, 255, errors)
    try:
        advert_int = float(settings.get("advert_int"))
    except (TypeError, ValueError):
        advert_int = 0.0
    if not 0 < advert_int <= 255:
        errors.append(f"director_vrrp_advert_int: seconds between adverts, above 0 and at most 255 "
                      f"(got {settings.get('advert_int')!r})")
    seen: dict[int, str] = {}
    mine: Optional[int] = None
    for member in members:
        # This director's own priority is the role variable (inventory, play or role parameter).
        chosen = settings.get("priority", member["priority"]) if member["host"] == me else member["priority"]
        priority = _int(chosen, f"director_vrrp_priority of {member['host']}", 1, 254, errors)
        if priority is None:
            continue
        if priority in seen:
            errors.append(f"director_vrrp_priority: {seen[priority]} and {member['host']} both have priority "
                          f"{priority}; give each director of the group its own (the highest is the master)")
        seen[priority] = member["host"]
        if member["host"] == me:
            mine = priority
        elif not member["address"]:
            errors.append(f"director_vrrp_address of {member['host']}: no address for the VRRP peer "
                          f"(set it, or gather the host's facts in the same run)")
    if members and me not in [member["host"] for member in members]:
        errors.append(f"director_vrrp_group: this director ({me}) is not a host of the group; its hosts are "
                      f"{', '.join(member['host'] for member in members)}")
    if mine is None:
        mine = _int(settings.get("priority", DEFAULT_PRIORITY), "director_vrrp_priority", 1, 254, errors)
    peers = [member["address"] for member in members if member["host"] != me and member["address"]]
    nopreempt = _bool(settings.get("nopreempt"))
    highest = max([mine or 0, *seen])
    return {
        "name": settings.get("instance") or "VI_LVS_DR",
        # nopreempt needs every instance to start as BACKUP; otherwise the highest priority starts as MASTER.
        "state": "MASTER" if not nopreempt and mine == highest else "BACKUP",
        "priority": mine,
        "router_id": router_id,
        "advert_int": int(advert_int) if advert_int.is_integer() else advert_int,
        "nopreempt": nopreempt,
        "source": settings.get("source") or "",
        "peers": peers,
        "sync_daemon": _bool(settings.get("sync_daemon")),
    }


def build_config(services: Sequence[Mapping[str, Any]], options: Mapping[str, Any]) -> dict[str, Any]:
    """Everything keepalived.conf needs, and every problem found, in one pass."""
    errors: list[str] = []
    blocks = virtual_servers(services, options, errors)
    instance = vrrp(options, errors)
    # Switching from the ipvsadm owner: its services go first. keepalived does not
    # take over a service that exists (its add fails with "already exists" and
    # the old weights stay), so lvs.dr.ipvs_service removes them just before.
    keys = ("protocol", "address", "port", "fwmark", "family")
    absent = [{**{key: entry[key] for key in keys if entry.get(key) is not None}, "state": "absent"}
              for entry in services if isinstance(entry, Mapping) and (entry.get("state") or "present") == "present"]
    return {"errors": errors, "virtual_servers": blocks, "vrrp": instance, "ipvsadm_services_absent": absent}


_VIRTUAL = re.compile(r"^\s*virtual_server\s+(?:fwmark\s+(\d+)|(\S+)\s+(\d+))\s*\{")
_REAL = re.compile(r"^\s*real_server\s+(\S+)(?:\s+(\d+))?\s*\{")
_PROTOCOL = re.compile(r"^\s*protocol\s+(\w+)")
_WEIGHT = re.compile(r"^\s*weight\s+(\d+)")


def configured_real_servers(text: str) -> list[dict[str, Any]]:
    """The real servers a keepalived.conf (as the director role writes it) declares, with their weights.

    One ``{service, address, port, weight}`` per real server; ``service`` is ``{protocol, address, port}``
    or ``{fwmark}``, as lvs.dr.ipvs_info names services. A real server's port is None in a firewall-mark
    service.
    """
    found: list[dict[str, Any]] = []
    service: Optional[dict[str, Any]] = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split("!", 1)[0]
        virtual = _VIRTUAL.match(line)
        if virtual:
            mark, address, port = virtual.groups()
            service = {"fwmark": int(mark)} if mark else {"protocol": "tcp", "address": address, "port": int(port)}
            continue
        if service is None:
            continue
        protocol = _PROTOCOL.match(line)
        if protocol and "fwmark" not in service:
            service["protocol"] = protocol.group(1).lower()
            continue
        real = _REAL.match(line)
        if real:
            found.append({"service": service, "address": real.group(1),
                          "port": int(real.group(2)) if real.group(2) else None, "weight": 1})
            continue
        weight = _WEIGHT.match(line)
        if weight and found and found[-1]["service"] is service:
            found[-1]["weight"] = int(weight.group(1))
    return found


def _same_service(configured: Mapping[str, Any], listed: Mapping[str, Any]) -> bool:
    if "fwmark" in configured:
        return listed.get("fwmark") == configured["fwmark"]
    return (str(listed.get("protocol", "")).lower() == configured["protocol"]
            and str(listed.get("address")) == configured["address"] and listed.get("port") == configured["port"])


def checked_out(text: str, services: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Real servers of keepalived.conf that the health checks took out of the live table.

    ``services`` is lvs.dr.ipvs_info's ``services``. A configured real server with a weight above 0 is out
    when its service has it with weight 0 (``inhibit_on_failure``) or not at all. A missing service takes
    out all of its real servers (keepalived is not running, or not yet).
    """
    out = []
    for server in configured_real_servers(text):
        if server["weight"] == 0:
            continue
        listed = next((s for s in services if _same_service(server["service"], s)), None)
        live = [rs for rs in (listed or {}).get("real_servers", [])
                if str(rs.get("address")) == server["address"]
                and (server["port"] is None or rs.get("port") == server["port"])]
        if listed is None:
            reason = "service not in the table"
        elif not live:
            reason = "not in the table"
        elif all(int(rs.get("weight", 0)) == 0 for rs in live):
            reason = "weight 0 (inhibit_on_failure)"
        else:
            continue
        out.append({**server, "reason": reason})
    return out
