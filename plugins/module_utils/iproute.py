# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""iproute2's ``ip``: argv builders and parsers on top of :mod:`command`.

Reading is done with ``ip -j`` (JSON) and parsed by plain functions that need
no kernel, so they are unit-tested on recorded output.  Writing builds argv
lists (never a shell string); :class:`command.CommandRunner` runs them with
``LANG=C``.  Callers decide what to change by reading state first; nothing
here matches error messages (iproute2 wording differs between versions).
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any, NamedTuple, Optional

from ansible_collections.lvs.dr.plugins.module_utils.command import CommandError, CommandRunner

FAMILY_FLAG = {4: "-4", 6: "-6"}
_JSON_FAMILY = {"inet": 4, "inet6": 6}
# Routes with these protocols belong to the kernel (they come and go with the
# address) and are never added or deleted by this collection.
KERNEL_PROTOCOLS = frozenset({"kernel"})


class AddressEntry(NamedTuple):
    """One address as the kernel reports it on one device."""

    device: str
    family: int
    address: str
    prefix: int
    label: Optional[str] = None  # IPv4 only; equals the device name when no alias label is set
    scope: str = "global"
    secondary: bool = False

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefix}"

    def describe(self) -> str:
        """The entry as an ``ip addr`` style line, for diffs and messages."""
        line = f"{self.cidr} dev {self.device}"
        if self.family == 4 and self.label and self.label != self.device:
            line += f" label {self.label}"
        return line


class RouteEntry(NamedTuple):
    """One route of the main table."""

    family: int
    dst: str  # normalised: host routes without the /32 or /128
    device: Optional[str]
    protocol: Optional[str] = None  # None: iproute2 omitted it (boot, the default of ``ip route add``)
    scope: Optional[str] = None
    metric: Optional[int] = None


# --------------------------------------------------------------------------- parsing


def _load_json_list(text: str, what: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"Cannot parse the JSON printed by ip ({what}): {exc}", stdout=text) from exc
    if not isinstance(data, list):
        raise CommandError(f"Unexpected JSON printed by ip ({what}): expected a list", stdout=text)
    return [item for item in data if isinstance(item, dict)]


def parse_links(text: str) -> list[str]:
    """Interface names from ``ip -j link show``."""
    return [str(link["ifname"]) for link in _load_json_list(text, "link show") if "ifname" in link]


def parse_addresses(text: str) -> list[AddressEntry]:
    """Addresses from ``ip -j addr show``."""
    entries: list[AddressEntry] = []
    for link in _load_json_list(text, "addr show"):
        device = str(link.get("ifname", ""))
        for info in link.get("addr_info", []) or []:
            family = _JSON_FAMILY.get(str(info.get("family")))
            if family is None or "local" not in info:
                continue
            label = info.get("label")
            if family == 4 and not label:
                label = device
            entries.append(
                AddressEntry(
                    device=device,
                    family=family,
                    address=str(ipaddress.ip_address(info["local"])),
                    prefix=int(info.get("prefixlen", 32 if family == 4 else 128)),
                    label=str(label) if family == 4 else None,
                    scope=str(info.get("scope", "global")),
                    secondary=bool(info.get("secondary", False)),
                )
            )
    return entries


def _normalise_dst(dst: str, family: int) -> str:
    if dst == "default":
        return dst
    network = ipaddress.ip_network(dst, strict=False)
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def parse_routes(text: str, family: int) -> list[RouteEntry]:
    """Routes from ``ip -j -4|-6 route show table main``."""
    routes: list[RouteEntry] = []
    for item in _load_json_list(text, "route show"):
        if "dst" not in item:
            continue
        metric = item.get("metric")
        routes.append(
            RouteEntry(
                family=family,
                dst=_normalise_dst(str(item["dst"]), family),
                device=item.get("dev"),
                protocol=item.get("protocol"),
                scope=item.get("scope"),
                metric=int(metric) if metric is not None else None,
            )
        )
    return routes


def host_routes(routes: list[RouteEntry], address: str, device: str) -> list[RouteEntry]:
    """Routes that are exactly ``<address> dev <device>`` and not owned by the kernel."""
    wanted = str(ipaddress.ip_address(address))
    return [
        route
        for route in routes
        if route.dst == wanted and route.device == device and route.protocol not in KERNEL_PROTOCOLS
    ]


# --------------------------------------------------------------------------- argv builders


def addr_add_argv(address: str, prefix: int, device: str, label: Optional[str] = None) -> list[str]:
    family = ipaddress.ip_address(address).version
    argv = [FAMILY_FLAG[family], "addr", "add", f"{address}/{prefix}", "dev", device]
    if label and family == 4:
        argv += ["label", label]
    return argv


def addr_del_argv(address: str, prefix: int, device: str) -> list[str]:
    family = ipaddress.ip_address(address).version
    return [FAMILY_FLAG[family], "addr", "del", f"{address}/{prefix}", "dev", device]


def route_add_argv(address: str, device: str) -> list[str]:
    """The guide's host route: ``ip route add VIP dev lo`` (the kernel gives it scope link)."""
    family = ipaddress.ip_address(address).version
    return [FAMILY_FLAG[family], "route", "add", address, "dev", device, "table", "main"]


def route_del_argv(route: RouteEntry) -> list[str]:
    argv = [FAMILY_FLAG[route.family], "route", "del", route.dst, "dev", str(route.device), "table", "main"]
    if route.metric is not None:
        # IPv6 keeps the kernel's own host route next to ours; the metric picks ours.
        argv += ["metric", str(route.metric)]
    return argv


# --------------------------------------------------------------------------- running


def ip_runner(module: Any) -> CommandRunner:
    """The runner of ``ip``; the binary is looked up on first use."""
    return CommandRunner(module, "ip", "iproute2 (the iproute package on the RedHat family)")


def run_ip(ip: CommandRunner, argv: list[str]) -> str:
    """Run ``ip <argv>``; CommandError (with cmd/rc/stdout/stderr) when it exits non-zero."""
    result = ip.run(argv)
    if result.rc != 0:
        raise CommandError(f"'{result.command}' failed: {result.stderr.strip() or result.stdout.strip()}", *result)
    return result.stdout


def list_interfaces(ip: CommandRunner) -> list[str]:
    return parse_links(run_ip(ip, ["-j", "link", "show"]))


def get_addresses(ip: CommandRunner) -> list[AddressEntry]:
    return parse_addresses(run_ip(ip, ["-j", "addr", "show"]))


def get_routes(ip: CommandRunner, family: int) -> list[RouteEntry]:
    return parse_routes(run_ip(ip, ["-j", FAMILY_FLAG[family], "route", "show", "table", "main"]), family)


# --------------------------------------------------------------------------- names

IFNAMSIZ = 16  # kernel limit including the terminating NUL: names and labels are at most 15 characters
_IFNAME_RE = re.compile(r"^[^/:\s]+$")
_LABEL_SUFFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


def validate_ifname(name: str) -> Optional[str]:
    """Error message for a malformed interface name, None when valid."""
    if not name or len(name) >= IFNAMSIZ or name in (".", "..") or not _IFNAME_RE.match(name):
        return f"'{name}' is not a valid interface name (1-{IFNAMSIZ - 1} characters, no '/', ':' or spaces)"
    return None


def validate_label(label: str, device: str) -> Optional[str]:
    """An address label must be ``<device>:<suffix>`` and fit the kernel's 15 characters."""
    prefix = f"{device}:"
    if not label.startswith(prefix) or len(label) == len(prefix):
        return f"'{label}' must start with '{prefix}' followed by a suffix, e.g. '{prefix}3'"
    if len(label) >= IFNAMSIZ:
        return f"'{label}' is {len(label)} characters long, the kernel allows at most {IFNAMSIZ - 1}"
    if not _LABEL_SUFFIX_RE.match(label[len(prefix):]):
        return f"'{label}' may only use letters, digits, '_', '.' and '-' after '{prefix}'"
    return None


# --------------------------------------------------------------------------- reconciling


class AddressSpec(NamedTuple):
    """An address wanted on (or to be removed from) a device."""

    address: str
    prefix: int
    device: str
    label: Optional[str] = None  # IPv4: None means no alias label (the kernel reports the device name)

    @property
    def family(self) -> int:
        return ipaddress.ip_address(self.address).version

    @property
    def wanted_label(self) -> Optional[str]:
        if self.family != 4:
            return None
        return self.label or self.device


class Operation(NamedTuple):
    """One ip command of a plan, with what it changes."""

    kind: str  # addr_del, addr_add, route_del, route_add
    argv: list[str]
    address: str
    entry: Optional[AddressEntry] = None
    route: Optional[RouteEntry] = None

    def command(self) -> str:
        return " ".join(["ip", *self.argv])


def entries_for(current: list[AddressEntry], address: str, device: str) -> list[AddressEntry]:
    return [entry for entry in current if entry.device == device and entry.address == address]


def _matches(entry: AddressEntry, spec: AddressSpec) -> bool:
    return entry.prefix == spec.prefix and (spec.family != 4 or entry.label == spec.wanted_label)


def plan_address_ops(specs: list[AddressSpec], current: list[AddressEntry], present: bool) -> list[Operation]:
    """Deletions and additions that leave exactly the wanted entries (present) or none (absent).

    IPv4 allows one address several times with different prefixes: every
    entry that does not match is removed, one matching entry is kept.
    """
    ops: list[Operation] = []
    for spec in specs:
        existing = entries_for(current, spec.address, spec.device)
        keep: Optional[AddressEntry] = None
        if present:
            keep = next((entry for entry in existing if _matches(entry, spec)), None)
        for entry in existing:
            if entry is not keep:
                ops.append(Operation("addr_del", addr_del_argv(entry.address, entry.prefix, entry.device),
                                     spec.address, entry=entry))
        if present and keep is None:
            added = AddressEntry(spec.device, spec.family, spec.address, spec.prefix, spec.wanted_label)
            ops.append(Operation("addr_add", addr_add_argv(spec.address, spec.prefix, spec.device, spec.label),
                                 spec.address, entry=added))
    return ops


def plan_route_ops(specs: list[AddressSpec], routes: list[RouteEntry], present: bool) -> list[Operation]:
    """Add the missing ``VIP dev <device>`` host routes, or delete exactly those routes."""
    ops: list[Operation] = []
    for spec in specs:
        existing = host_routes([r for r in routes if r.family == spec.family], spec.address, spec.device)
        if present and not existing:
            route = RouteEntry(spec.family, spec.address, spec.device)
            ops.append(Operation("route_add", route_add_argv(spec.address, spec.device), spec.address, route=route))
        if not present:
            ops.extend(Operation("route_del", route_del_argv(route), spec.address, route=route) for route in existing)
    return ops


def simulate_addresses(current: list[AddressEntry], ops: list[Operation]) -> list[AddressEntry]:
    """The address list after ``ops`` (check mode prediction)."""
    result = list(current)
    for op in ops:
        if op.kind == "addr_del" and op.entry is not None:
            gone = (op.entry.device, op.entry.address, op.entry.prefix)
            result = [e for e in result if (e.device, e.address, e.prefix) != gone]
        elif op.kind == "addr_add" and op.entry is not None:
            result.append(op.entry)
    return result


def simulate_routes(routes: list[RouteEntry], ops: list[Operation]) -> list[RouteEntry]:
    result = list(routes)
    for op in ops:
        if op.kind == "route_del":
            result = [r for r in result if r != op.route]
        elif op.kind == "route_add" and op.route is not None:
            result.append(op.route)
    return result


def secondaries_lost(ops: list[Operation], current: list[AddressEntry]) -> dict[str, list[str]]:
    """IPv4 secondaries the kernel would delete together with a primary this plan deletes.

    Without ``promote_secondaries`` the kernel removes every secondary of the
    same subnet when their primary goes.  Keyed by the deleted primary.
    """
    lost: dict[str, list[str]] = {}
    deleted = {(op.entry.device, op.entry.cidr) for op in ops if op.kind == "addr_del" and op.entry is not None}
    for op in ops:
        entry = op.entry
        if op.kind != "addr_del" or entry is None or entry.family != 4 or entry.secondary:
            continue
        subnet = ipaddress.ip_network(entry.cidr, strict=False)
        victims = [
            other.cidr
            for other in current
            if other.device == entry.device and other.family == 4 and other.secondary
            and other.prefix == entry.prefix and ipaddress.ip_address(other.address) in subnet
            and (other.device, other.cidr) not in deleted
        ]
        if victims:
            lost[f"{entry.cidr} dev {entry.device}"] = victims
    return lost


class VipPlan(NamedTuple):
    """The address and route operations that bring a device to the wanted addresses."""

    present: bool
    address_ops: list[Operation]
    route_ops: list[Operation]

    @property
    def ops(self) -> list[Operation]:
        """present: addresses, then routes; absent: routes first, so no route outlives its reason."""
        if self.present:
            return self.address_ops + self.route_ops
        return self.route_ops + self.address_ops

    @property
    def corrected(self) -> list[str]:
        """The entries present with another prefix or label, replaced by the plan."""
        if not self.present:
            return []
        return [op.entry.describe() for op in self.address_ops if op.kind == "addr_del" and op.entry]


def plan_vip(specs: list[AddressSpec], addresses: list[AddressEntry], routes: list[RouteEntry], present: bool,
             manage_route: bool) -> VipPlan:
    """Address operations, and host route operations when the routes are managed."""
    address_ops = plan_address_ops(specs, addresses, present)
    route_ops = plan_route_ops(specs, routes, present) if manage_route else []
    return VipPlan(present, address_ops, route_ops)
