#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lvs_loopback_vip
short_description: Virtual IP addresses on the loopback (real servers) or on a NIC (directors)
version_added: 0.1.0
description:
  - Puts LVS virtual IP addresses on a device, by default the real server's hidden VIP on C(lo) as a
    C(/32) (IPv4) or C(/128) (IPv6) with an optional alias label and the host route of the lab guide
    (step 2.2, C(ip addr add VIP/32 dev lo label lo:3) and C(ip route add VIP dev lo)).
  - The director's VIP on its NIC (guide step 3.1, C(ip addr add VIP/24 dev ens33 label ens33:8), no
    route) is the same module with O(device=ens33), O(prefix=24), O(label=ens33:8), O(route=false).
  - Idempotent by reading the live state with C(ip -j) first. An address present with another prefix or
    label is corrected (only that address is deleted and added again) and reported.
  - Every input is validated before anything is changed.
  - Apply M(lvs.dr.lvs_sysctl_arp) before putting a VIP on a real server, or it may announce the VIP.
author:
  - lvs.dr contributors (!UNKNOWN)
options:
  addresses:
    description:
      - The VIP(s). A single string is accepted too.
      - C(ADDRESS) or C(ADDRESS/PREFIX); the per-address prefix wins over O(prefix).
    type: list
    elements: str
    required: true
    aliases: [address, vip]
  device:
    description:
      - Device holding the addresses. It must exist.
    type: str
    default: lo
  prefix:
    description:
      - Prefix length of every address without its own C(/PREFIX).
      - Defaults to C(32) for IPv4 and C(128) for IPv6, the hidden VIP of a real server.
      - Use C(24) (the subnet's length) for a director's VIP on its NIC, as in the guide.
      - When given, all addresses without their own prefix must be of one family.
    type: int
  label:
    description:
      - Alias label of the IPv4 addresses, for example C(lo:3). Must be C(<device>:<suffix>), at most
        15 characters. IPv6 addresses have no labels, so giving a label with an IPv6 address is an error.
      - Without it the addresses carry no alias label; an existing different label is corrected.
    type: str
  route:
    description:
      - Manage the host route C(VIP dev <device>) in the main table, as the guide adds for the hidden VIP.
      - Defaults to V(true) when O(device=lo) and to V(false) otherwise.
      - With O(state=absent) the routes removed are exactly C(VIP dev <device>) ones (never kernel routes).
      - With V(false) existing routes are left alone.
    type: bool
  state:
    description:
      - V(present) adds (or corrects) the addresses and routes, V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The commands, addresses and routes are predicted from the live state read with C(ip -j).
  diff_mode:
    support: full
    details: Shows the managed addresses and routes as C(ip) style lines before and after, as one entry of RV(diff).
  platform:
    support: full
    platforms: linux
requirements:
  - iproute2 with JSON output (C(ip -j), iproute2 4.14 or later)
notes:
  - Changes are live only; boot persistence is the job of the roles (or of your network configuration).
  - Deleting an IPv4 primary address makes the kernel delete the secondaries of its subnet unless
    C(promote_secondaries) is set; the module refuses such a change instead of losing addresses.
seealso:
  - module: lvs.dr.lvs_sysctl_arp
"""

EXAMPLES = r"""
- name: Hidden VIP on a real server, as in the guide (lo:3, /32, host route)
  lvs.dr.lvs_loopback_vip:
    addresses: 192.168.206.150
    label: "lo:3"

- name: Director VIP on its NIC, /24 with a label and no extra route (guide step 3.1)
  lvs.dr.lvs_loopback_vip:
    addresses: 192.168.206.150
    device: ens33
    prefix: 24
    label: "ens33:8"
    route: false

- name: IPv4 and IPv6 VIPs on lo
  lvs.dr.lvs_loopback_vip:
    addresses:
      - 192.0.2.10
      - 2001:db8::10

- name: Remove the hidden VIP and its route
  lvs.dr.lvs_loopback_vip:
    addresses: 192.168.206.150
    state: absent
"""

RETURN = r"""
addresses:
  description: The managed addresses on O(device) after the run (predicted in check mode).
  returned: always
  type: list
  elements: dict
  sample: [{"address": "192.168.206.150", "prefix": 32, "device": "lo", "label": "lo:3", "family": "ipv4"}]
routes:
  description: The managed host routes C(VIP dev <device>) after the run; empty when O(route=false).
  returned: always
  type: list
  elements: str
  sample: ["192.168.206.150 dev lo"]
commands:
  description: The C(ip) commands run (in check mode, the ones that would run), in order.
  returned: always
  type: list
  elements: str
  sample: ["ip -4 addr add 192.168.206.150/32 dev lo label lo:3", "ip -4 route add 192.168.206.150 dev lo table main"]
corrected:
  description: Addresses that were present with another prefix or label and were (or would be) replaced.
  returned: always
  type: list
  elements: str
  sample: ["192.168.206.150/24 dev lo"]
diff:
  description:
    - Always a list, one entry with the managed addresses and routes on O(device) before and after the run
      (predicted in check mode), as C(ip) style lines.
  returned: when diff mode is on
  type: list
  elements: dict
  sample:
    - before_header: addresses and routes on lo
      after_header: addresses and routes on lo
      before: ""
      after: "192.168.206.150/32 dev lo label lo:3\nroute 192.168.206.150 dev lo\n"
"""

import ipaddress
from typing import Any, NamedTuple, Optional

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils import iproute
from ansible_collections.lvs.dr.plugins.module_utils.addresses import parse_ip
from ansible_collections.lvs.dr.plugins.module_utils.command import CommandRunner
from ansible_collections.lvs.dr.plugins.module_utils.diff import DiffCollector
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError, exit_with
from ansible_collections.lvs.dr.plugins.module_utils.sysctl_arp import CONF_ROOT, read_value

ARGUMENT_SPEC: dict[str, Any] = {
    "addresses": {"type": "list", "elements": "str", "required": True, "aliases": ["address", "vip"]},
    "device": {"type": "str", "default": "lo"},
    "prefix": {"type": "int"},
    "label": {"type": "str"},
    "route": {"type": "bool"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
}
FAMILY_NAME = {4: "ipv4", 6: "ipv6"}
MAX_PREFIX = {4: 32, 6: 128}


def _parse_addresses(given_list: list[str]) -> tuple[list[tuple[str, str, Optional[int]]], list[str]]:
    """(given, normalised address, own prefix or None) per entry, and the error messages."""
    errors: list[str] = []
    parsed: list[tuple[str, str, Optional[int]]] = []
    seen: dict[str, str] = {}
    for given in given_list:
        text = str(given).strip()
        own_prefix: Optional[int] = None
        if "/" in text:
            text, _sep, prefix_text = text.partition("/")
            if not prefix_text.isdigit():
                errors.append(f"addresses: '{given}' has an invalid prefix length '{prefix_text}'")
                continue
            own_prefix = int(prefix_text)
        try:
            address = str(parse_ip(text))
        except ValueError as exc:
            errors.append(f"addresses: '{given}' {exc}")
            continue
        if address in seen:
            errors.append(f"addresses: {address} is listed twice ('{seen[address]}' and '{given}')")
            continue
        seen[address] = str(given)
        parsed.append((str(given), address, own_prefix))
    if not given_list:
        errors.append("addresses: at least one address is required")
    return parsed, errors


def build_specs(params: dict[str, Any]) -> tuple[list[iproute.AddressSpec], list[str]]:
    """Validate the parameters; return the address specs and the error messages (nothing touched yet)."""
    device, label, prefix_param = params["device"], params["label"], params["prefix"]
    errors = [f"device: {error}" for error in [iproute.validate_ifname(device)] if error]
    if label is not None:
        errors += [f"label: {error}" for error in [iproute.validate_label(label, device)] if error]
    parsed, address_errors = _parse_addresses(params["addresses"])
    errors += address_errors

    def family_of(address: str) -> int:
        return ipaddress.ip_address(address).version

    if prefix_param is not None and len({family_of(a) for _g, a, own in parsed if own is None}) > 1:
        errors.append(
            f"prefix={prefix_param} cannot apply to both IPv4 and IPv6 addresses; "
            "write the prefix per address (ADDRESS/PREFIX)"
        )
    v6 = [address for _g, address, _o in parsed if family_of(address) == 6]
    if label is not None and v6:
        errors.append(f"label: IPv6 addresses have no labels, but addresses has {', '.join(v6)}")

    specs: list[iproute.AddressSpec] = []
    for given, address, own in parsed:
        family = family_of(address)
        prefix = own if own is not None else prefix_param if prefix_param is not None else MAX_PREFIX[family]
        if not 1 <= prefix <= MAX_PREFIX[family]:
            source = f"addresses: '{given}'" if own is not None else f"prefix={prefix} for {address}"
            errors.append(f"{source}: the prefix length must be between 1 and {MAX_PREFIX[family]} for IPv{family}")
            continue
        specs.append(iproute.AddressSpec(address, prefix, device, label if family == 4 else None))
    return specs, errors


def _report_addresses(entries: list[iproute.AddressEntry], specs: list[iproute.AddressSpec]) -> list[dict[str, Any]]:
    """The entries of the managed addresses, in the order of the addresses option (not the kernel's)."""
    return [
        {"address": e.address, "prefix": e.prefix, "device": e.device, "label": e.label,
         "family": FAMILY_NAME[e.family]}
        for spec in specs
        for e in sorted(iproute.entries_for(entries, spec.address, spec.device), key=lambda e: e.prefix)
    ]


def _report_routes(routes: list[iproute.RouteEntry], specs: list[iproute.AddressSpec]) -> list[str]:
    lines = []
    for spec in specs:
        family_routes = [r for r in routes if r.family == spec.family]
        lines += [f"{r.dst} dev {r.device}" for r in iproute.host_routes(family_routes, spec.address, spec.device)]
    return lines


def _state_text(addresses: list[dict[str, Any]], routes: list[str]) -> str:
    lines = []
    for item in addresses:
        line = f"{item['address']}/{item['prefix']} dev {item['device']}"
        if item["label"] and item["label"] != item["device"]:
            line += f" label {item['label']}"
        lines.append(line)
    lines += [f"route {route}" for route in routes]
    return "".join(f"{line}\n" for line in lines)


class Request(NamedTuple):
    """The validated parameters: what to manage, where."""

    specs: list[iproute.AddressSpec]
    device: str
    present: bool
    manage_route: bool

    @property
    def families(self) -> set[int]:
        return {spec.family for spec in self.specs}


class LiveState(NamedTuple):
    """The addresses of every device, and the host routes of the managed families (when managed)."""

    addresses: list[iproute.AddressEntry]
    routes: list[iproute.RouteEntry]


def _validate(params: dict[str, Any]) -> Request:
    """Check every parameter before anything is read or changed."""
    specs, errors = build_specs(params)
    if errors:
        raise LvsDrError("; ".join(errors), errors=errors)
    device = params["device"]
    manage_route = params["route"] if params["route"] is not None else device == "lo"
    return Request(specs, device, params["state"] == "present", manage_route)


def _read_routes(ip: CommandRunner, families: set[int]) -> list[iproute.RouteEntry]:
    routes: list[iproute.RouteEntry] = []
    for family in sorted(families):
        routes += iproute.get_routes(ip, family)
    return routes


def _read(ip: CommandRunner, request: Request) -> LiveState:
    routes = _read_routes(ip, request.families) if request.manage_route else []
    return LiveState(iproute.get_addresses(ip), routes)


def _check_device(ip: CommandRunner, device: str) -> None:
    interfaces = iproute.list_interfaces(ip)
    if device not in interfaces:
        raise LvsDrError(f"device: no such interface: '{device}'", interfaces=interfaces)


def _warn_about(module: AnsibleModule, specs: list[iproute.AddressSpec], current: list[iproute.AddressEntry]) -> None:
    for spec in specs:
        if spec.device == "lo" and spec.prefix < MAX_PREFIX[spec.family]:
            network = ipaddress.ip_network(f"{spec.address}/{spec.prefix}", strict=False)
            module.warn(f"{spec.address}/{spec.prefix} on lo makes the host treat the whole {network} as local")
        others = sorted({e.device for e in current if e.address == spec.address and e.device != spec.device})
        if others:
            module.warn(f"{spec.address} is also assigned to {', '.join(others)}")


def _refuse_losing_secondaries(ops: list[iproute.Operation], current: list[iproute.AddressEntry]) -> None:
    """Fail (before any change) if the plan deletes a primary whose secondaries the kernel would drop."""
    lost = {
        key: value
        for key, value in iproute.secondaries_lost(ops, current).items()
        if not _promote_secondaries(key.split(" dev ")[1])
    }
    if lost:
        details = "; ".join(f"deleting {key} would also delete {', '.join(value)}" for key, value in lost.items())
        raise LvsDrError(
            f"Refusing to delete a primary address: {details} "
            "(the kernel drops secondaries with their primary unless promote_secondaries=1)"
        )


def _execute(ip: CommandRunner, ops: list[iproute.Operation]) -> None:
    for op in ops:
        iproute.run_ip(ip, op.argv)


def _apply(ip: CommandRunner, request: Request, plan: iproute.VipPlan) -> list[iproute.Operation]:
    """Run the plan; return the operations run."""
    if not request.present:
        _execute(ip, plan.ops)
        return plan.ops
    _execute(ip, plan.address_ops)
    route_ops = plan.route_ops
    if request.manage_route and plan.address_ops:
        # Re-plan: deleting an address may have taken a route with it.
        route_ops = iproute.plan_route_ops(request.specs, _read_routes(ip, request.families), request.present)
    _execute(ip, route_ops)
    return plan.address_ops + route_ops


def _simulate(before: LiveState, ops: list[iproute.Operation]) -> LiveState:
    """The check mode prediction of the state after ``ops``."""
    return LiveState(iproute.simulate_addresses(before.addresses, ops), iproute.simulate_routes(before.routes, ops))


def _report(request: Request, plan: iproute.VipPlan, ops: list[iproute.Operation], before: LiveState,
            after: LiveState, *, diff_mode: bool) -> dict[str, Any]:
    after_addresses = _report_addresses(after.addresses, request.specs)
    after_routes = _report_routes(after.routes, request.specs)
    result: dict[str, Any] = {
        "changed": bool(ops),
        "addresses": after_addresses,
        "routes": after_routes,
        "commands": [op.command() for op in ops],
        "corrected": plan.corrected,
    }
    diff = DiffCollector()
    diff.add(f"addresses and routes on {request.device}",
             _state_text(_report_addresses(before.addresses, request.specs),
                         _report_routes(before.routes, request.specs)),
             _state_text(after_addresses, after_routes))
    return diff.report(result, diff_mode)


def run(module: AnsibleModule) -> dict[str, Any]:
    """Validate, read, plan, apply unless check mode, re-read, report."""
    request = _validate(module.params)
    ip = iproute.ip_runner(module)
    _check_device(ip, request.device)
    before = _read(ip, request)
    if request.present:
        _warn_about(module, request.specs, before.addresses)
    plan = iproute.plan_vip(request.specs, before.addresses, before.routes, request.present, request.manage_route)
    _refuse_losing_secondaries(plan.address_ops, before.addresses)
    if module.check_mode:
        ops = plan.ops
        after = _simulate(before, ops)
    else:
        ops = _apply(ip, request, plan)
        after = _read(ip, request)
    return _report(request, plan, ops, before, after, diff_mode=module._diff)


def _promote_secondaries(device: str) -> bool:
    try:
        return read_value(device, "promote_secondaries", CONF_ROOT) == 1
    except (OSError, ValueError):
        return False


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with(module, lambda: run(module))


if __name__ == "__main__":
    main()
