# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data model of the IPVS table: the dataclasses and the constants every other layer shares.

Everything else points here: ``ipvs_format`` (ipvsadm listings and the save
format), ``ipvs_plan`` (desired vs live), ``ipvs_validate`` (module input) and
the modules' argument specs, which are built from the option names and choices
below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.addresses import (
    IPV4,
    IPV6,
    address_sort_key,
    format_host_port,
)

PROTOCOLS = ("tcp", "udp", "sctp")
FWMARK = "fwmark"

# ipvsadm service switches (save format and commands)
PROTOCOL_SWITCH = {"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}
# listing labels (protocol_name() in ipvsadm.c)
PROTOCOL_LABEL = {"tcp": "TCP", "udp": "UDP", "sctp": "SCTP"}
LABEL_PROTOCOL = {v: k for k, v in PROTOCOL_LABEL.items()}

# forwarding methods: module name -> ipvsadm switch
FORWARDING_SWITCH = {"dr": "-g", "nat": "-m", "tunnel": "-i"}
# listing names (fwd_name() in ipvsadm.c) -> module name. "Local" is chosen by
# the kernel when the real server address is local to the director; ipvsadm
# saves it as -g, so it is equivalent to "dr" for comparisons.
LISTING_FORWARDING = {"Route": "dr", "Masq": "nat", "Tunnel": "tunnel", "Local": "local"}

DEFAULT_SCHEDULER = "wlc"

# every scheduler shipped with Linux (net/netfilter/ipvs/ip_vs_*.c)
SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh", "twos")
# flags ipvsadm accepts with -b and prints back for that scheduler (print_sched_flags)
SCHEDULER_FLAGS: dict[str, tuple[str, ...]] = {
    "sh": ("sh-fallback", "sh-port"),
    "mh": ("mh-fallback", "mh-port"),
}
GENERIC_SCHEDULER_FLAGS = ("flag-1", "flag-2", "flag-3")
FORWARDING_METHODS = tuple(FORWARDING_SWITCH)
FAMILIES = (IPV4, IPV6)
STATES = ("present", "absent")
MAX_PERSISTENCE_TIMEOUT = 86400 * 31  # MAX_TIMEOUT in ipvsadm.c
MAX_FWMARK = 2**32 - 1
MAX_WEIGHT = 65535
MAX_THRESHOLD = 65535

DEFAULT_WEIGHT = 1
DEFAULT_STATE = "present"
# a service is given either by protocol/address/port or by fwmark: these cannot go with fwmark
FWMARK_EXCLUSIVE = ("address", "port", "protocol")


# --------------------------------------------------------------------------- options
# The options of ipvs_service and ipvs_info, as Ansible argument-spec data: the modules build their
# specs from these, validation reads the names, and one unit test holds DOCUMENTATION to them.


def real_server_spec() -> dict[str, dict[str, Any]]:
    """One real server (an entry of ``real_servers``)."""
    return {
        "address": {"type": "str"},
        "port": {"type": "int"},
        "forwarding": {"type": "str"},
        "weight": {"type": "int", "default": DEFAULT_WEIGHT},
        "upper_threshold": {"type": "int", "default": 0},
        "lower_threshold": {"type": "int", "default": 0},
    }


def service_key_spec() -> dict[str, dict[str, Any]]:
    """The options that identify a virtual service (ipvs_service, ipvs_info's ``service``)."""
    return {
        "protocol": {"type": "str", "choices": list(PROTOCOLS)},
        "address": {"type": "str"},
        "port": {"type": "int"},
        "fwmark": {"type": "int"},
        "family": {"type": "str", "choices": list(FAMILIES)},
    }


def service_spec() -> dict[str, dict[str, Any]]:
    """One virtual service: ipvs_service's top-level options and the keys of a ``services`` entry."""
    return {
        **service_key_spec(),
        "scheduler": {"type": "str", "choices": list(SCHEDULERS)},
        "scheduler_flags": {"type": "list", "elements": "str"},
        "persistence_timeout": {"type": "int"},
        "persistence_netmask": {"type": "str"},
        "real_servers": {"type": "list", "elements": "dict", "options": real_server_spec()},
        "state": {"type": "str", "choices": list(STATES), "default": DEFAULT_STATE},
    }


REAL_SERVER_OPTIONS = tuple(real_server_spec())
SERVICE_KEY_OPTIONS = tuple(service_key_spec())
SINGLE_SERVICE_OPTIONS = tuple(service_spec())
# the options that describe one service at the top level, so cannot be combined with ``services``
SERVICES_EXCLUSIVE = tuple(option for option in SINGLE_SERVICE_OPTIONS if option != "state")


def service_module_spec() -> dict[str, dict[str, Any]]:
    """ipvs_service's whole argument spec (the benchmark's list floor module takes the same one).

    The entries of ``services`` are checked by ``ipvs_validate.validate_request`` alone (types, defaults,
    unknown keys, messages naming ``services[i].option``): Ansible's own per-entry suboption pass cost about a
    third of a no-op run at 1000 services and found nothing that one misses. The entries are documented in
    the module's ``DOCUMENTATION``.
    """
    return {
        "services": {"type": "list", "elements": "dict"},
        **service_spec(),
        "return_services": {"type": "str", "choices": ["changed", "all"], "default": "changed"},
        "save": {"type": "bool", "default": False},
        "save_path": {"type": "path"},
    }


def service_module_constraints() -> dict[str, Any]:
    """The other ``AnsibleModule`` arguments of ipvs_service: which options go together and check mode."""
    return {
        "mutually_exclusive": [("services", option) for option in SERVICES_EXCLUSIVE]
        + [("fwmark", option) for option in FWMARK_EXCLUSIVE],
        "required_one_of": [("services", "address", "fwmark")],
        "required_together": [("address", "port")],
        "required_by": {"family": "fwmark", "persistence_netmask": "persistence_timeout"},
        "supports_check_mode": True,
    }


HOST_NETMASK = {IPV4: "255.255.255.255", IPV6: "128"}

STAT_FIELDS = ("connections", "packets_in", "packets_out", "bytes_in", "bytes_out")
RATE_FIELDS = ("connections_per_second", "packets_in_per_second", "packets_out_per_second",
               "bytes_in_per_second", "bytes_out_per_second")


@dataclass(frozen=True)
class ServiceKey:
    """Identity of a virtual service in the kernel table."""

    protocol: str  # tcp, udp, sctp or fwmark
    family: str  # ipv4 or ipv6
    address: str = ""
    port: int = 0
    fwmark: int = 0

    @property
    def is_fwmark(self) -> bool:
        return self.protocol == FWMARK

    def ipvsadm_args(self) -> list[str]:
        """The service selector as ipvsadm arguments, e.g. ``['-t', '192.0.2.1:80']``."""
        if self.is_fwmark:
            args = ["-f", str(self.fwmark)]
            if self.family == IPV6:
                args.append("-6")
            return args
        return [PROTOCOL_SWITCH[self.protocol], format_host_port(self.address, self.port)]

    def rule(self) -> str:
        return " ".join(self.ipvsadm_args())

    @property
    def protocol_number(self) -> int:
        return {"tcp": 6, "udp": 17, "sctp": 132}.get(self.protocol, 0)

    def to_dict(self) -> dict[str, object]:
        if self.is_fwmark:
            return {"fwmark": self.fwmark, "family": self.family}
        return {"protocol": self.protocol, "address": self.address, "port": self.port, "family": self.family}


def _add_counters(data: dict[str, object], stats: Optional[dict[str, int]], rate: Optional[dict[str, int]]) -> None:
    """Copy the live counters that were read (stats, rate) into a result dict."""
    if stats is not None:
        data["stats"] = dict(stats)
    if rate is not None:
        data["rate"] = dict(rate)


@dataclass
class RealServer:
    address: str
    port: int
    forwarding: str = "dr"
    weight: int = 1
    upper_threshold: int = 0
    lower_threshold: int = 0
    active_connections: Optional[int] = None
    inactive_connections: Optional[int] = None
    stats: Optional[dict[str, int]] = None
    rate: Optional[dict[str, int]] = None

    @property
    def key(self) -> tuple[str, int]:
        return (self.address, self.port)

    def config(self) -> tuple[str, int, int, int]:
        """The fields ipvs_service manages, normalised for comparison."""
        forwarding = "dr" if self.forwarding == "local" else self.forwarding
        return (forwarding, int(self.weight), int(self.upper_threshold), int(self.lower_threshold))

    def sort_key(self) -> tuple[int, int, int]:
        version, number = address_sort_key(self.address)
        return (version, number, self.port)

    def to_dict(self, live: bool = False) -> dict[str, object]:
        data: dict[str, object] = {
            "address": self.address,
            "port": self.port,
            "forwarding": self.forwarding,
            "weight": self.weight,
            "upper_threshold": self.upper_threshold,
            "lower_threshold": self.lower_threshold,
        }
        if live:
            data["active_connections"] = self.active_connections
            data["inactive_connections"] = self.inactive_connections
            _add_counters(data, self.stats, self.rate)
        return data


@dataclass
class VirtualService:
    key: ServiceKey
    scheduler: str = DEFAULT_SCHEDULER
    scheduler_flags: tuple[str, ...] = ()
    persistence_timeout: Optional[int] = None
    # effective mask: dotted for IPv4, prefix length (as text) for IPv6
    persistence_netmask: str = ""
    # not managed by ipvs_service, but carried over on -E so edits keep them
    one_packet: bool = False
    persistence_engine: Optional[str] = None
    real_servers: list[RealServer] = field(default_factory=list)
    stats: Optional[dict[str, int]] = None
    rate: Optional[dict[str, int]] = None

    def __post_init__(self) -> None:
        if not self.persistence_netmask:
            self.persistence_netmask = HOST_NETMASK[self.key.family]
        self.scheduler_flags = tuple(sorted(set(self.scheduler_flags)))

    @property
    def persistent(self) -> bool:
        return self.persistence_timeout is not None

    def config(self) -> tuple[object, ...]:
        """Service-level fields that are managed; the mask only counts when persistent."""
        mask = self.persistence_netmask if self.persistent else None
        return (self.scheduler, self.scheduler_flags, self.persistence_timeout, mask)

    def servers_by_key(self) -> dict[tuple[str, int], RealServer]:
        return {rs.key: rs for rs in self.real_servers}

    def sorted_servers(self) -> list[RealServer]:
        return sorted(self.real_servers, key=RealServer.sort_key)

    def to_dict(self, live: bool = False) -> dict[str, object]:
        data = self.key.to_dict()
        data.update(
            {
                "scheduler": self.scheduler,
                "scheduler_flags": list(self.scheduler_flags),
                "persistence_timeout": self.persistence_timeout,
                "persistence_netmask": self.persistence_netmask if self.persistent else None,
                "real_servers": [rs.to_dict(live) for rs in self.sorted_servers()],
            }
        )
        if live:
            data["one_packet"] = self.one_packet
            data["persistence_engine"] = self.persistence_engine
            _add_counters(data, self.stats, self.rate)
        return data


@dataclass
class IpvsTable:
    services: list[VirtualService] = field(default_factory=list)
    version: Optional[str] = None
    size: Optional[int] = None

    def by_key(self) -> dict[ServiceKey, VirtualService]:
        return {svc.key: svc for svc in self.services}

    def described(self) -> list[object]:
        """Everything the table holds, services and real servers in the order read: what two reads of one
        table (ipvsadm's listing, the kernel's sockopts) must agree on."""
        return [self.version, self.size] + [
            (svc.to_dict(live=True), [rs.to_dict(live=True) for rs in svc.real_servers]) for svc in self.services
        ]


@dataclass
class DesiredService:
    """One requested service: its state, the service as wanted, and the parameter that named it."""

    state: str
    service: VirtualService
    parameter: str  # "services[3]" or "" for the top-level options
