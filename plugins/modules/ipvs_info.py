#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: ipvs_info
short_description: Read the live IPVS table, statistics, rates and connections
version_added: "0.1.0"
description:
  - Returns the kernel's IPVS table as data, what C(ipvsadm -Ln), C(--thresholds), C(--stats --exact),
    C(--rate --exact) and C(-Lnc) print -- services, schedulers, persistence, real servers with forwarding method,
    weight, thresholds, active and inactive connections, per-service and per-server counters and rates, and
    optionally the connection list.
  - Read-only. A fixed number of C(ipvsadm) calls (at most five) whatever the size of the table.
  - Counters are folded by the kernel's 2-second estimator; read them at least 2 seconds after the traffic
    you want to see.
author:
  - lvs.dr contributors (!UNKNOWN)
requirements:
  - ipvsadm on the managed host and a kernel with IPVS (C(ip_vs)).
attributes:
  check_mode:
    support: full
    description: The module changes nothing; it runs the same reads in check mode.
  diff_mode:
    support: none
    description: The module changes nothing, so there is no diff to report.
  platform:
    support: full
    platforms: linux
    description: Linux with the IPVS kernel module and C(ipvsadm).
options:
  service:
    description:
      - Return only this virtual service (and, with O(connections), only its connections).
      - Either V(address) and V(port) (with optional V(protocol), default V(tcp)) or V(fwmark)
        (with optional V(family)).
    type: dict
    suboptions:
      protocol:
        description: V(tcp) (default), V(udp) or V(sctp).
        type: str
      address:
        description: Virtual IP address.
        type: str
      port:
        description: Virtual port.
        type: int
      fwmark:
        description: Firewall mark.
        type: int
      family:
        description: V(ipv4) (default) or V(ipv6), with V(fwmark).
        type: str
  stats:
    description: Include counters (C(ipvsadm -Ln --stats --exact)).
    type: bool
    default: true
  rate:
    description: Include rates (C(ipvsadm -Ln --rate --exact)).
    type: bool
    default: true
  connections:
    description: Include the connection table (C(ipvsadm -Lnc)). It can be large on a busy director.
    type: bool
    default: false
seealso:
  - module: lvs.dr.ipvs_service
"""

EXAMPLES = r"""
- name: Step 4.4 of the guide as data
  lvs.dr.ipvs_info:
    connections: true
  register: ipvs

- name: Every real server of the VIP got connections
  ansible.builtin.assert:
    that: ipvs.services[0].real_servers | map(attribute='stats.connections') | min > 0

- name: One service only, without rates
  lvs.dr.ipvs_info:
    service:
      address: 192.168.206.150
      port: 80
    rate: false
"""

RETURN = r"""
version:
  description: IPVS version of the kernel.
  returned: always
  type: str
  sample: 1.2.1
table_size:
  description: Size of the kernel's connection hash table.
  returned: always
  type: int
  sample: 4096
services:
  description: Virtual services, sorted as ipvsadm lists them.
  returned: always
  type: list
  elements: dict
  contains:
    protocol: {description: "tcp, udp or sctp (absent for fwmark services).", type: str, returned: success}
    address: {description: Virtual IP address., type: str, returned: success}
    port: {description: Virtual port., type: int, returned: success}
    fwmark: {description: Firewall mark (fwmark services only)., type: int, returned: success}
    family: {description: ipv4 or ipv6., type: str, returned: success}
    scheduler: {description: Scheduler., type: str, returned: success}
    scheduler_flags: {description: Scheduler flags., type: list, elements: str, returned: success}
    persistence_timeout: {description: Persistence timeout or null., type: int, returned: success}
    persistence_netmask: {description: Persistence netmask when persistent., type: str, returned: success}
    one_packet: {description: One-packet scheduling., type: bool, returned: success}
    persistence_engine: {description: Persistence engine or null., type: str, returned: success}
    stats:
      description: connections, packets_in, packets_out, bytes_in, bytes_out.
      type: dict
      returned: when O(stats=true)
    rate:
      description:
        - connections_per_second, packets_in_per_second, packets_out_per_second, bytes_in_per_second,
          bytes_out_per_second.
      type: dict
      returned: when O(rate=true)
    real_servers:
      description:
        - address, port, forwarding (dr, nat, tunnel or local), weight, upper_threshold, lower_threshold,
          active_connections, inactive_connections, and stats/rate as for the service.
      type: list
      elements: dict
      returned: success
  sample:
    - protocol: tcp
      address: 192.168.206.150
      port: 80
      family: ipv4
      scheduler: rr
      scheduler_flags: []
      persistence_timeout: null
      persistence_netmask: null
      one_packet: false
      persistence_engine: null
      stats: {connections: 12, packets_in: 80, packets_out: 0, bytes_in: 5904, bytes_out: 0}
      real_servers:
        - address: 192.168.206.128
          port: 80
          forwarding: dr
          weight: 1
          upper_threshold: 0
          lower_threshold: 0
          active_connections: 0
          inactive_connections: 6
connections:
  description:
    - The connection entries (protocol, expires in seconds, state, source/virtual/destination address and port).
  returned: when O(connections=true)
  type: list
  elements: dict
  sample:
    - {protocol: TCP, expires: 118, state: FIN_WAIT, source_address: 192.168.206.1, source_port: 51234,
       virtual_address: 192.168.206.150, virtual_port: 80, destination_address: 192.168.206.128, destination_port: 80}
"""

from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import IpvsParseError, ServiceKey, VirtualService
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import ValidationError, validate_service_key
from ansible_collections.lvs.dr.plugins.module_utils.ipvsadm import Ipvsadm, IpvsadmError

ARGUMENT_SPEC: dict[str, Any] = {
    "service": {
        "type": "dict",
        "options": {
            "protocol": {"type": "str"},
            "address": {"type": "str"},
            "port": {"type": "int"},
            "fwmark": {"type": "int"},
            "family": {"type": "str"},
        },
    },
    "stats": {"type": "bool", "default": True},
    "rate": {"type": "bool", "default": True},
    "connections": {"type": "bool", "default": False},
}


def filter_connections(
    connections: list[dict[str, object]], key: ServiceKey, service: Optional[VirtualService]
) -> list[dict[str, object]]:
    """Connections of one service: by virtual address/port, or by real server for fwmark services."""
    if not key.is_fwmark:
        return [
            c for c in connections
            if c["virtual_address"] == key.address and c["virtual_port"] == key.port
            and str(c["protocol"]).lower() == key.protocol
        ]
    servers = {(rs.address, rs.port) for rs in service.real_servers} if service else set()
    return [c for c in connections if (c["destination_address"], c["destination_port"]) in servers]


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    key: Optional[ServiceKey] = None
    if module.params["service"] is not None:
        params = dict(module.params["service"])
        params["allow_port_zero"] = True
        try:
            key = validate_service_key(params, "service")
        except ValidationError as exc:
            module.fail_json(msg=str(exc), parameter=exc.parameter)
    ipvsadm = Ipvsadm(module)
    try:
        table = ipvsadm.read_full(stats=module.params["stats"], rate=module.params["rate"])
        connections = ipvsadm.connections() if module.params["connections"] else None
    except IpvsadmError as exc:
        module.fail_json(**exc.fail_kwargs())
    except IpvsParseError as exc:
        module.fail_json(msg=f"could not parse ipvsadm output: {exc}")
    services = table.services
    selected: Optional[VirtualService] = None
    if key is not None:
        selected = table.by_key().get(key)
        services = [selected] if selected else []
    result: dict[str, Any] = {
        "changed": False,
        "version": table.version,
        "table_size": table.size,
        "services": [svc.to_dict(live=True) for svc in services],
    }
    if connections is not None:
        result["connections"] = filter_connections(connections, key, selected) if key else connections
    module.exit_json(**result)


if __name__ == "__main__":
    main()
