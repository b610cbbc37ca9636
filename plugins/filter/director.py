# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the director role's variables into lvs.dr.ipvs_service input and firewall ports.

Each filter is documented in the .yml file of its name beside this one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ansible.errors import AnsibleFilterError


def _present(service: Mapping[str, Any]) -> bool:
    return (service.get("state") or "present") == "present"


def group_real_servers(hosts: Iterable[str], hostvars: Mapping[str, Any], weight: Any) -> list[dict[str, Any]]:
    """One real server per host: its ``realserver_rip``, else its default IPv4 address, else ""."""
    servers = []
    for host in hosts:
        host_vars = hostvars[host]
        rip = host_vars.get("realserver_rip")
        if rip is None:
            facts = host_vars.get("ansible_facts") or {}
            rip = (facts.get("default_ipv4") or {}).get("address", "")
        servers.append({"address": rip, "weight": weight})
    return servers


def service_firewall_ports(services: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """What the firewall opens for the services: every present address:port service (firewall-mark ones have none)."""
    return [
        {"protocol": service.get("protocol") or "tcp", "address": service["address"], "port": int(service["port"])}
        for service in services
        if service.get("fwmark") is None and _present(service)
    ]


def ipv4_real_servers(services: Iterable[Mapping[str, Any]]) -> list[str]:
    """The IPv4 addresses of the real servers of the present services, each once, in order of appearance."""
    found: list[str] = []
    for service in services:
        if not _present(service):
            continue
        for server in service.get("real_servers") or []:
            address = server.get("address") or ""
            try:
                is_ipv4 = ipaddress.ip_address(str(address)).version == 4
            except ValueError:
                is_ipv4 = False
            if is_ipv4 and address not in found:
                found.append(address)
    return found


def _same_address(left: Any, right: str) -> bool:
    try:
        return ipaddress.ip_address(str(left)) == ipaddress.ip_address(right)
    except ValueError:
        return str(left) == right


def real_server_weight(services: Iterable[Mapping[str, Any]], address: str, weight: Optional[int],
                       variable: str = "drain_host") -> list[dict[str, Any]]:
    """The services with every entry of the real server ``address`` at ``weight``, or without it (``None``).

    Fails naming ``variable`` when ``address`` is not an IP address or is in no present service.
    """
    try:
        wanted = str(ipaddress.ip_address(str(address)))
    except ValueError:
        raise AnsibleFilterError(f"{variable}: {address!r} is neither a host of the inventory nor an IP address. "
                                 "Nothing was changed.") from None
    found = False
    result = []
    for declared in services:
        service = dict(declared)
        if _present(service):
            servers = []
            for server in service.get("real_servers") or []:
                if not _same_address(server.get("address"), wanted):
                    servers.append(server)
                    continue
                found = True
                if weight is not None:
                    servers.append(dict(server, weight=int(weight)))
            service["real_servers"] = servers
        result.append(service)
    if not found:
        raise AnsibleFilterError(f"{variable}: {wanted} is in no virtual service of the director's inventory "
                                 "(director_services, else director_real_servers). Nothing was changed.")
    return result


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "group_real_servers": group_real_servers,
            "service_firewall_ports": service_firewall_ports,
            "ipv4_real_servers": ipv4_real_servers,
            "real_server_weight": real_server_weight,
        }
