# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Data model of the IPVS table and parsers of ``ipvsadm`` listing output.

The parsers read what ipvsadm 1.31 prints with ``-n`` (see ``print_service_entry``,
``print_title``, ``print_largenum`` and ``print_conn`` in ipvsadm.c). They split
on whitespace, so column widths do not matter, and they accept the pre-1.31
negative fwmark rendering (``%d`` of an unsigned mark).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.addresses import (
    IPV4,
    IPV6,
    address_sort_key,
    format_host_port,
    split_host_port,
)
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError

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
HOST_NETMASK = {IPV4: "255.255.255.255", IPV6: "128"}

STAT_FIELDS = ("connections", "packets_in", "packets_out", "bytes_in", "bytes_out")
RATE_FIELDS = ("connections_per_second", "packets_in_per_second", "packets_out_per_second",
               "bytes_in_per_second", "bytes_out_per_second")

_VERSION_RE = re.compile(r"^IP Virtual Server version (\S+) \(size=(\d+)\)")
_SUFFIX = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


class IpvsParseError(LvsDrError, ValueError):
    """ipvsadm printed something this parser does not understand."""

    def fail_kwargs(self) -> dict[str, Any]:
        return {"msg": f"could not parse ipvsadm output: {self.msg}"}


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


# --------------------------------------------------------------------------- parsing


def _number(token: str) -> int:
    """Counter as printed by print_largenum(): exact, or abbreviated with K/M/G/T."""
    if token and token[-1] in _SUFFIX and token[:-1].isdigit():
        return int(token[:-1]) * _SUFFIX[token[-1]]
    try:
        return int(token)
    except ValueError:
        raise IpvsParseError(f"expected a number, got {token!r}") from None


def _parse_service_key(tokens: list[str]) -> tuple[ServiceKey, list[str]]:
    """Parse the leading ``PROT addr:port`` / ``FWM mark [IPv6]`` tokens of a service line."""
    label = tokens[0]
    if label == "FWM":
        mark = int(tokens[1])
        if mark < 0:  # ipvsadm <= 1.31 printed marks above 2^31 with %d
            mark += 2**32
        rest = tokens[2:]
        family = IPV4
        if rest and rest[0] == "IPv6":
            family, rest = IPV6, rest[1:]
        return ServiceKey(FWMARK, family, fwmark=mark), rest
    if label not in LABEL_PROTOCOL:
        raise IpvsParseError(f"unknown service protocol {label!r}")
    address, port = split_host_port(tokens[1])
    family = IPV6 if ":" in address else IPV4
    return ServiceKey(LABEL_PROTOCOL[label], family, address, port or 0), tokens[2:]


def _apply_service_options(svc: VirtualService, rest: list[str]) -> None:
    """``rr (sh-port) persistent 300 mask 255.255.255.0 pe sip ops`` (listing format)."""
    if not rest:
        return
    svc.scheduler = rest[0]
    i = 1
    while i < len(rest):
        word = rest[i]
        if word.startswith("(") and word.endswith(")"):
            svc.scheduler_flags = tuple(sorted(f for f in word[1:-1].split(",") if f))
        elif word == "persistent":
            i += 1
            svc.persistence_timeout = int(rest[i])
        elif word == "mask":
            i += 1
            svc.persistence_netmask = rest[i]
        elif word == "pe":
            i += 1
            svc.persistence_engine = rest[i]
        elif word == "ops":
            svc.one_packet = True
        i += 1


def _is_title(line: str, tokens: list[str]) -> bool:
    """The version line and the column titles (``Prot LocalAddress:Port ...``, ``-> RemoteAddress:Port ...``)."""
    first = tokens[0]
    if first == "->":
        return len(tokens) > 1 and tokens[1].startswith("RemoteAddress")
    if first == "Prot":
        return len(tokens) > 1 and tokens[1].startswith("LocalAddress")
    return first == "IP" and line.startswith("IP Virtual Server version")


def parse_listing(text: str, fmt: str = "list") -> IpvsTable:
    """Parse ``ipvsadm -Ln`` output; ``fmt`` is list, thresholds, stats or rate.

    * list:       service options; real server forwarding, weight, active, inactive
    * thresholds: service options; real server upper, lower, active, inactive
    * stats:      five counters per service and real server (``--stats --exact``)
    * rate:       five rates per service and real server (``--rate --exact``)
    """
    if fmt not in ("list", "thresholds", "stats", "rate"):
        raise ValueError(f"unknown listing format {fmt!r}")
    table = IpvsTable()
    current: Optional[VirtualService] = None
    # one split per line; a 1000-service table is 4000+ lines, read twice per run
    for line in text.splitlines():
        tokens = line.split()
        if not tokens:
            continue
        if _is_title(line, tokens):
            match = _VERSION_RE.match(line)
            if match:
                table.version, table.size = match.group(1), int(match.group(2))
            continue
        if tokens[0] == "->":
            if current is None:
                continue  # real server of a service we could not parse
            current.real_servers.append(_parse_server(tokens[1:], fmt, current.key))
            continue
        if line[0].isspace():
            raise IpvsParseError(f"unexpected line in ipvsadm output: {line!r}")
        if tokens[0] == "?":
            current = None  # protocol unknown to this ipvsadm: skip the block
            continue
        key, rest = _parse_service_key(tokens)
        current = VirtualService(key=key)
        if fmt in ("list", "thresholds"):
            _apply_service_options(current, rest)
        else:
            values = [_number(t) for t in rest[:5]]
            names = STAT_FIELDS if fmt == "stats" else RATE_FIELDS
            if len(values) != 5:
                raise IpvsParseError(f"expected five counters in {line!r}")
            setattr(current, fmt, dict(zip(names, values)))
        table.services.append(current)
    return table


def _parse_server(tokens: list[str], fmt: str, key: ServiceKey) -> RealServer:
    address, port = split_host_port(tokens[0])
    rs = RealServer(address=address, port=port or 0)
    rest = tokens[1:]
    if fmt == "list":
        if len(rest) < 4:
            raise IpvsParseError(f"short real server line for {key.rule()}: {tokens!r}")
        rs.forwarding = LISTING_FORWARDING.get(rest[0], rest[0].lower())
        # with --tun-info a tunnel column sits between forward and weight
        numbers = rest[-3:]
        rs.weight, rs.active_connections, rs.inactive_connections = (int(n) for n in numbers)
    elif fmt == "thresholds":
        if len(rest) < 4:
            raise IpvsParseError(f"short real server line for {key.rule()}: {tokens!r}")
        rs.upper_threshold, rs.lower_threshold, rs.active_connections, rs.inactive_connections = (
            int(n) for n in rest[:4]
        )
    else:
        values = [_number(t) for t in rest[:5]]
        if len(values) != 5:
            raise IpvsParseError(f"expected five counters for real server {tokens[0]}")
        setattr(rs, fmt, dict(zip(STAT_FIELDS if fmt == "stats" else RATE_FIELDS, values)))
    return rs


def merge_listings(
    listing: IpvsTable,
    thresholds: Optional[IpvsTable] = None,
    stats: Optional[IpvsTable] = None,
    rate: Optional[IpvsTable] = None,
) -> IpvsTable:
    """Fold thresholds/stats/rate listings into the main listing, matched by key.

    Services or servers that appear only in the extra listings (the table changed
    between two ipvsadm calls) are ignored: the main listing is authoritative.
    """
    for extra, kind in ((thresholds, "thresholds"), (stats, "stats"), (rate, "rate")):
        if extra is None:
            continue
        extra_services = extra.by_key()
        for svc in listing.services:
            other = extra_services.get(svc.key)
            if other is None:
                continue
            other_servers = other.servers_by_key()
            if kind in ("stats", "rate"):
                setattr(svc, kind, getattr(other, kind))
            for rs in svc.real_servers:
                match = other_servers.get(rs.key)
                if match is None:
                    continue
                if kind == "thresholds":
                    rs.upper_threshold = match.upper_threshold
                    rs.lower_threshold = match.lower_threshold
                else:
                    setattr(rs, kind, getattr(match, kind))
    return listing


def parse_connections(text: str) -> list[dict[str, object]]:
    """Parse ``ipvsadm -Lnc`` (optionally ``--persistent-conn``) output."""
    connections: list[dict[str, object]] = []
    for line in text.splitlines():
        tokens = line.split()
        if not tokens or tokens[0] in ("IPVS", "pro"):
            continue
        if len(tokens) < 6:
            raise IpvsParseError(f"unexpected connection line: {line!r}")
        minutes, _sep, seconds = tokens[1].partition(":")
        src, vip, dst = (split_host_port(t) for t in tokens[3:6])
        entry: dict[str, object] = {
            "protocol": tokens[0],
            "expires": int(minutes) * 60 + int(seconds or 0),
            "state": tokens[2],
            "source_address": src[0],
            "source_port": src[1],
            "virtual_address": vip[0],
            "virtual_port": vip[1],
            "destination_address": dst[0],
            "destination_port": dst[1],
        }
        if len(tokens) >= 8:
            entry["pe_name"], entry["pe_data"] = tokens[6], tokens[7]
        connections.append(entry)
    return connections
