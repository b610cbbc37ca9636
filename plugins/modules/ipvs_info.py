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
  - Also returns what the running kernel offers for IPVS (RV(kernel)) -- whether IPVS is present and which
    schedulers are loaded, loadable or missing -- read from C(/proc), C(/sys) and C(/lib/modules) without
    C(ipvsadm). With O(table=false) only that is read, so it works before C(ipvsadm) is installed and
    without loading C(ip_vs); use it for pre-flight checks.
  - Read-only. A fixed number of C(ipvsadm) calls (at most five) whatever the size of the table.
  - Counters are folded by the kernel's 2-second estimator; read them at least 2 seconds after the traffic
    you want to see.
author:
  - lvs.dr contributors (!UNKNOWN)
requirements:
  - ipvsadm on the managed host and a kernel with IPVS (C(ip_vs)), unless O(table=false).
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
  table:
    description:
      - Read the IPVS table with C(ipvsadm) (RV(version), RV(table_size), RV(services), RV(connections)).
      - With V(false) only RV(kernel) is returned; neither C(ipvsadm) nor a loaded C(ip_vs) is needed, and
        C(ip_vs) is not loaded as a side effect (C(ipvsadm) loads it when it is available but not loaded).
        O(service) and O(connections) then cannot be used.
    type: bool
    default: true
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
        choices: [tcp, udp, sctp]
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
        choices: [ipv4, ipv6]
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

- name: Pre-flight, before ipvsadm is installed - IPVS and the round robin scheduler can be used
  lvs.dr.ipvs_info:
    table: false
  register: ipvs_kernel

- name: Fail clearly when the kernel lacks IPVS or the scheduler
  ansible.builtin.assert:
    that:
      - ipvs_kernel.kernel.ipvs_available is not false
      - "'rr' not in ipvs_kernel.kernel.schedulers.missing"
    fail_msg: >-
      kernel {{ ipvs_kernel.kernel.release }}: IPVS available {{ ipvs_kernel.kernel.ipvs_available }},
      schedulers available {{ ipvs_kernel.kernel.schedulers.available }}

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
  returned: when O(table=true)
  type: str
  sample: 1.2.1
table_size:
  description: Size of the kernel's connection hash table.
  returned: when O(table=true)
  type: int
  sample: 4096
services:
  description: Virtual services, sorted as ipvsadm lists them.
  returned: when O(table=true)
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
kernel:
  description:
    - What the running kernel offers for IPVS, read from files (no C(ipvsadm), no C(modprobe)). With
      O(table=true) it is read after the table, so it reflects an C(ip_vs) that C(ipvsadm) just loaded.
    - Also returned (as far as it could be read) when the module fails because IPVS or C(ipvsadm) is unusable.
  returned: always
  type: dict
  contains:
    release:
      description: The running kernel's release (C(uname -r)).
      type: str
      returned: success
    ipvs_present:
      description: C(/proc/net/ip_vs) exists, that is C(ip_vs) is loaded or built in.
      type: bool
      returned: success
    ipvs_available:
      description:
        - V(true) when IPVS is present or C(ip_vs) is a module of this kernel (loaded on first use, for example
          by C(ipvsadm)), V(false) when the module index says this kernel has no C(ip_vs), V(null) when that
          cannot be told (IPVS not present and no module index, typical in a container).
      type: bool
      returned: success
    ipvs_version:
      description: IPVS version from C(/proc/net/ip_vs); V(null) when IPVS is not present.
      type: str
      returned: success
    ipvs_table_size:
      description: Connection hash table size from C(/proc/net/ip_vs); V(null) when IPVS is not present.
      type: int
      returned: success
    modules_index:
      description:
        - Whether C(modules.dep) and C(modules.builtin) of C(/lib/modules/<release>) could be read. Without them
          (a container usually sees the host's C(/sys/module) but not its C(/lib/modules)) only the loaded
          schedulers are known; the host kernel still loads a scheduler module on demand if it has one.
      type: bool
      returned: success
    schedulers:
      description:
        - The kernel's schedulers (rr wrr lc wlc lblc lblcr dh sh sed nq fo ovf mh twos) by state. Each is in
          exactly one of V(loaded), V(loadable), V(missing), V(unknown); V(available) is V(loaded) plus
          V(loadable).
      type: dict
      returned: success
      contains:
        available:
          description: Usable by a virtual service (loaded or loadable).
          type: list
          elements: str
          returned: success
        loaded:
          description: In the running kernel now (C(/sys/module/ip_vs_<name>)) or built in (C(modules.builtin)).
          type: list
          elements: str
          returned: success
        loadable:
          description:
            - Not loaded, but listed in C(modules.dep) (any compression suffix); the kernel loads it the first
              time a service uses it.
          type: list
          elements: str
          returned: success
        missing:
          description:
            - Not loaded and not in the module index of this kernel (for example V(twos) on Debian 12's kernel,
              which is built without it).
          type: list
          elements: str
          returned: success
        unknown:
          description: Not loaded, and no module index to tell whether it exists (RV(kernel.modules_index=false)).
          type: list
          elements: str
          returned: success
  sample:
    release: 6.1.0-18-amd64
    ipvs_present: true
    ipvs_available: true
    ipvs_version: 1.2.1
    ipvs_table_size: 4096
    modules_index: true
    schedulers:
      available: [rr, wrr, lc, wlc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh]
      loaded: [rr, wlc]
      loadable: [wrr, lc, lblc, lblcr, dh, sh, sed, nq, fo, ovf, mh]
      missing: [twos]
      unknown: []
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

from dataclasses import dataclass
from typing import Any, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils.command import CommandError
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError, exit_with
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_kernel import read_kernel_info
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    IpvsTable,
    ServiceKey,
    VirtualService,
    service_key_spec,
)
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_validate import validate_service_key
from ansible_collections.lvs.dr.plugins.module_utils.ipvsadm import Ipvsadm

ARGUMENT_SPEC: dict[str, Any] = {
    "table": {"type": "bool", "default": True},
    "service": {"type": "dict", "options": service_key_spec()},
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


def kernel_info() -> dict[str, Any]:
    """The ``kernel`` return value (a function so the unit tests can point it at fake trees)."""
    return read_kernel_info().to_dict()


@dataclass(frozen=True)
class InfoRequest:
    """What to read, validated."""

    table: bool
    key: Optional[ServiceKey]  # one service only
    stats: bool
    rate: bool
    connections: bool


@dataclass
class Reading:
    """What ipvsadm printed, parsed."""

    table: IpvsTable
    connections: Optional[list[dict[str, object]]]


def validate(params: dict[str, Any]) -> InfoRequest:
    """Everything that can be rejected, before anything is read."""
    if not params["table"]:
        for option, unused in (("service", None), ("connections", False)):
            if params[option] != unused:
                raise LvsDrError(
                    f"{option}: needs table=true (got {option}={params[option]!r} with table=false)",
                    parameter=option,
                )
    key: Optional[ServiceKey] = None
    if params["service"] is not None:
        service = dict(params["service"])
        service["allow_port_zero"] = True
        key = validate_service_key(service, "service")
    return InfoRequest(params["table"], key, params["stats"], params["rate"], params["connections"])


def read(module: AnsibleModule, request: InfoRequest) -> Reading:
    """At most five ipvsadm listings; a failure carries what the kernel offers, which tells why."""
    ipvsadm = Ipvsadm(module)
    try:
        table = ipvsadm.read_full(stats=request.stats, rate=request.rate)
        connections = ipvsadm.connections() if request.connections else None
    except CommandError as exc:
        exc.fields["kernel"] = kernel_info()
        raise
    return Reading(table, connections)


def report(request: InfoRequest, reading: Reading) -> dict[str, Any]:
    """The result: the table (or the one requested service), the kernel, the connections if asked."""
    services = reading.table.services
    selected: Optional[VirtualService] = None
    if request.key is not None:
        selected = reading.table.by_key().get(request.key)
        services = [selected] if selected else []
    result: dict[str, Any] = {
        "changed": False,
        "version": reading.table.version,
        "table_size": reading.table.size,
        "services": [svc.to_dict(live=True) for svc in services],
        "kernel": kernel_info(),
    }
    if reading.connections is not None:
        connections = reading.connections
        result["connections"] = filter_connections(connections, request.key, selected) if request.key else connections
    return result


def run(module: AnsibleModule) -> dict[str, Any]:
    """Validate, read, report; with table=false only what the kernel offers is read."""
    request = validate(module.params)
    if not request.table:
        return {"changed": False, "kernel": kernel_info()}
    return report(request, read(module, request))


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with(module, lambda: run(module))


if __name__ == "__main__":
    main()
