# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one wrapper around iproute2's ``ip`` used by this collection.

Reading is done with ``ip -j`` (JSON) and parsed by plain functions that need
no kernel, so they are unit-tested on recorded output.  Writing builds argv
lists (never a shell string) and runs them with ``LANG=C``.  Callers decide
what to change by reading state first; nothing here matches error messages
(iproute2 wording differs between versions).
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, NamedTuple, Optional

# Environment for every ip invocation: stable, untranslated output.
IP_ENV = {"LANG": "C", "LC_ALL": "C", "LC_MESSAGES": "C"}

FAMILY_FLAG = {4: "-4", 6: "-6"}
_JSON_FAMILY = {"inet": 4, "inet6": 6}
# Routes with these protocols belong to the kernel (they come and go with the
# address) and are never added or deleted by this collection.
KERNEL_PROTOCOLS = frozenset({"kernel"})


class IpError(Exception):
    """ip failed or printed something that could not be parsed."""

    def __init__(self, msg: str, cmd: Optional[list[str]] = None, rc: Optional[int] = None,
                 stdout: str = "", stderr: str = "") -> None:
        super().__init__(msg)
        self.msg = msg
        self.cmd = cmd or []
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr

    def fail_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``module.fail_json``."""
        return {"msg": self.msg, "cmd": self.cmd, "rc": self.rc, "stdout": self.stdout, "stderr": self.stderr}


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

    def describe(self) -> str:
        line = f"{self.dst} dev {self.device}"
        if self.protocol:
            line += f" proto {self.protocol}"
        if self.scope:
            line += f" scope {self.scope}"
        if self.metric is not None:
            line += f" metric {self.metric}"
        return line


# --------------------------------------------------------------------------- parsing


def _load_json_list(text: str, what: str) -> list[dict[str, Any]]:
    text = text.strip()
    if not text:
        return []
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise IpError(f"Cannot parse the JSON printed by ip ({what}): {exc}", stdout=text) from exc
    if not isinstance(data, list):
        raise IpError(f"Unexpected JSON printed by ip ({what}): expected a list", stdout=text)
    return [item for item in data if isinstance(item, dict)]


def parse_links(text: str) -> list[str]:
    """Interface names from ``ip -j link show``."""
    return [str(link["ifname"]) for link in _load_json_list(text, "link show") if "ifname" in link]


def parse_addresses(text: str) -> list[AddressEntry]:
    """Addresses from ``ip -j addr show`` (all devices, or one with ``dev``)."""
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


def ip_binary(module: Any) -> str:
    """Path of ``ip``; fails the module with a clear message when missing."""
    return str(module.get_bin_path("ip", required=True))


def run_ip(module: Any, argv: list[str]) -> str:
    """Run ``ip <argv>`` with LANG=C; raise IpError (with rc/stdout/stderr) when it fails."""
    cmd = [ip_binary(module), *argv]
    rc, stdout, stderr = module.run_command(cmd, environ_update=IP_ENV, check_rc=False)
    if rc != 0:
        raise IpError(f"'{' '.join(cmd)}' failed: {stderr.strip() or stdout.strip()}", cmd, rc, stdout, stderr)
    return str(stdout)


def list_interfaces(module: Any) -> list[str]:
    return parse_links(run_ip(module, ["-j", "link", "show"]))


def get_addresses(module: Any, device: Optional[str] = None) -> list[AddressEntry]:
    argv = ["-j", "addr", "show"]
    if device:
        argv += ["dev", device]
    return parse_addresses(run_ip(module, argv))


def get_routes(module: Any, family: int) -> list[RouteEntry]:
    return parse_routes(run_ip(module, ["-j", FAMILY_FLAG[family], "route", "show", "table", "main"]), family)


def add_address(module: Any, address: str, prefix: int, device: str, label: Optional[str] = None) -> None:
    run_ip(module, addr_add_argv(address, prefix, device, label))


def del_address(module: Any, address: str, prefix: int, device: str) -> None:
    run_ip(module, addr_del_argv(address, prefix, device))


def add_route(module: Any, address: str, device: str) -> None:
    run_ip(module, route_add_argv(address, device))


def del_route(module: Any, route: RouteEntry) -> None:
    run_ip(module, route_del_argv(route))
