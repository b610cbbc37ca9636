# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The IPVS table as ipvsadm writes it: listing parsers, ``-R``/``-S`` lines, libipvs's sort order.

The parsers read what ipvsadm 1.31 prints with ``-n`` (see ``print_service_entry``,
``print_title``, ``print_largenum`` and ``print_conn`` in ipvsadm.c). They split
on whitespace, so column widths do not matter, and they accept the pre-1.31
negative fwmark rendering (``%d`` of an unsigned mark). The renderers write the
save format (``ipvsadm -Sn``), which is also the ``ipvsadm -R`` input, and sort
as libipvs does so a predicted save file matches the real one byte for byte.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from functools import cmp_to_key
from typing import Any, Optional, Union

from ansible_collections.lvs.dr.plugins.module_utils.addresses import (
    CANONICAL_IPV4,
    IPV4,
    IPV6,
    format_host_port,
    normalize_ip,
    split_host_port,
)
from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    FORWARDING_SWITCH,
    FWMARK,
    HOST_NETMASK,
    LABEL_PROTOCOL,
    LISTING_FORWARDING,
    PROTOCOL_SWITCH,
    RATE_FIELDS,
    STAT_FIELDS,
    IpvsTable,
    RealServer,
    ServiceKey,
    VirtualService,
)

_VERSION_RE = re.compile(r"^IP Virtual Server version (\S+) \(size=(\d+)\)")
_SUFFIX = {"K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_SWITCH_PROTOCOL = {v: k for k, v in PROTOCOL_SWITCH.items()}


class IpvsParseError(LvsDrError, ValueError):
    """ipvsadm printed something this parser does not understand."""

    def fail_kwargs(self) -> dict[str, Any]:
        return {"msg": f"could not parse ipvsadm output: {self.msg}"}


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


# The lines of a large table are nearly all of one shape: an IPv4 service with only a scheduler, and IPv4 real
# servers with their four columns. _plain_line reads such a line from its words in a few steps; any other line
# (titles, IPv6, fwmark, options, a column more or less) goes through the general code below, so the result is
# the same either way (the tests compare both on the recorded listings and on generated ones).
_PLAIN_SERVER_WORDS = {"list": 6, "thresholds": 6}


def _plain_ipv4_port(word: str) -> Optional[tuple[str, int]]:
    """``192.0.2.1:80`` with a canonical IPv4 address and a port 0-65535, else None."""
    host, _sep, port = word.partition(":")
    if not port.isdecimal() or not CANONICAL_IPV4.fullmatch(host):
        return None
    number = int(port)
    return (host, number) if number <= 65535 else None


def _plain_server(tokens: list[str], fmt: str) -> Optional[RealServer]:
    """The real server of a ``-> address:port`` line of the common shape, else None."""
    where = _plain_ipv4_port(tokens[1])
    if where is None or not (tokens[3].isdecimal() and tokens[4].isdecimal() and tokens[5].isdecimal()):
        return None
    active, inactive = int(tokens[4]), int(tokens[5])
    if fmt == "list":
        forwarding = LISTING_FORWARDING.get(tokens[2])
        if forwarding is None:
            return None
        return RealServer(where[0], where[1], forwarding, int(tokens[3]), 0, 0, active, inactive)
    if not tokens[2].isdecimal():
        return None
    return RealServer(where[0], where[1], "dr", 1, int(tokens[2]), int(tokens[3]), active, inactive)


def _plain_service(tokens: list[str]) -> Optional[VirtualService]:
    """The service of a ``TCP address:port scheduler`` line of the common shape, else None."""
    protocol = LABEL_PROTOCOL.get(tokens[0])
    where = _plain_ipv4_port(tokens[1]) if protocol else None
    if where is None:
        return None
    return VirtualService(ServiceKey(protocol, IPV4, where[0], where[1]), tokens[2])


def parse_listing(text: str, fmt: str = "list", fast: bool = True) -> IpvsTable:
    """Parse ``ipvsadm -Ln`` output; ``fmt`` is list, thresholds, stats or rate.

    * list:       service options; real server forwarding, weight, active, inactive
    * thresholds: service options; real server upper, lower, active, inactive
    * stats:      five counters per service and real server (``--stats --exact``)
    * rate:       five rates per service and real server (``--rate --exact``)

    ``fast=False`` sends every line through the general code (the tests compare both ways).
    """
    if fmt not in ("list", "thresholds", "stats", "rate"):
        raise ValueError(f"unknown listing format {fmt!r}")
    table = IpvsTable()
    current: Optional[VirtualService] = None
    plain = fast and fmt in ("list", "thresholds")
    for line in text.splitlines():
        tokens = line.split()
        found = _plain_line(line, tokens, fmt) if plain else None
        if found is None:
            current = _parse_line(table, current, line, tokens, fmt)
        elif isinstance(found, VirtualService):
            current = found
            table.services.append(found)
        elif current is not None:  # else a real server of a service we could not parse
            current.real_servers.append(found)
    return table


def _plain_line(line: str, tokens: list[str], fmt: str) -> Union[VirtualService, RealServer, None]:
    """A service or real server line of the common shape, else None (the general code reads it)."""
    if len(tokens) == 6 and tokens[0] == "->" and line.startswith("  -> "):
        return _plain_server(tokens, fmt)
    if len(tokens) == 3 and not line[0].isspace():
        return _plain_service(tokens)
    return None


def _parse_line(
    table: IpvsTable, current: Optional[VirtualService], line: str, tokens: list[str], fmt: str
) -> Optional[VirtualService]:
    """Read one listing line into ``table``; the service that following real server lines belong to."""
    if not tokens:
        return current
    if _is_title(line, tokens):
        match = _VERSION_RE.match(line)
        if match:
            table.version, table.size = match.group(1), int(match.group(2))
        return current
    if tokens[0] == "->":
        if current is not None:  # else a real server of a service we could not parse
            current.real_servers.append(_parse_server(tokens[1:], fmt, current.key))
        return current
    if line[0].isspace():
        raise IpvsParseError(f"unexpected line in ipvsadm output: {line!r}")
    if tokens[0] == "?":
        return None  # protocol unknown to this ipvsadm: skip the block
    key, rest = _parse_service_key(tokens)
    service = VirtualService(key=key)
    if fmt in ("list", "thresholds"):
        _apply_service_options(service, rest)
    else:
        values = [_number(t) for t in rest[:5]]
        names = STAT_FIELDS if fmt == "stats" else RATE_FIELDS
        if len(values) != 5:
            raise IpvsParseError(f"expected five counters in {line!r}")
        setattr(service, fmt, dict(zip(names, values)))
    table.services.append(service)
    return service


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


# --------------------------------------------------------------------------- /proc/net/ip_vs
# The kernel writes this file in one pass (ip_vs_info_seq_show in ip_vs_ctl.c), with no netlink round trip per
# service: at 10,000 services it reads in a fraction of a second where one ipvsadm listing takes seconds. It
# lacks thresholds and scheduler flags and gives the persistence timeout in jiffies, so it only supplies what
# ``ipvsadm -Ln --thresholds`` lacks: each real server's forwarding method and weight.

ProcDests = dict[tuple[str, int], tuple[str, int]]  # (address, port) -> (forwarding, weight)


def _proc_address(token: str) -> tuple[str, int]:
    """``C0000296:0050`` or ``[2001:0db8:...:0150]:0050`` -> canonical address, port."""
    if len(token) == 13 and token[8] == ":" and token[0] != "[":  # IPv4, the common case, in fewer steps
        return socket.inet_ntoa(bytes.fromhex(token[:8])), int(token[9:], 16)
    host, _sep, port = token.rpartition(":")
    if host.startswith("["):
        return normalize_ip(host[1:-1]), int(port, 16)
    return socket.inet_ntoa(bytes.fromhex(host)), int(port, 16)


def parse_proc_ip_vs(text: str) -> dict[tuple[str, str, int], ProcDests]:
    """Real servers per service from ``/proc/net/ip_vs``.

    Services are keyed ``(protocol, address, port)``, or ``(fwmark, family, mark)`` with the family taken from
    the first real server (the file does not say it; a mark with no real servers is left out, as is a mark
    used by both families, whose two entries cannot be told apart).
    """
    result: dict[tuple[str, str, int], ProcDests] = {}
    dests: Optional[ProcDests] = None
    mark: Optional[int] = None
    ambiguous: set[int] = set()
    for line in text.splitlines()[3:]:
        tokens = line.split()
        if not tokens:
            continue
        if tokens[0] == "->":
            if dests is None:
                raise IpvsParseError(f"real server before any service in /proc/net/ip_vs: {line!r}")
            address, port = _proc_address(tokens[1])
            if mark is not None and not dests:  # first real server of a mark: now its family is known
                key = (FWMARK, IPV6 if ":" in address else IPV4, mark)
                if key in result:
                    ambiguous.add(mark)
                result[key] = dests
            dests[(address, port)] = (LISTING_FORWARDING.get(tokens[2]) or tokens[2].lower(), int(tokens[3]))
            continue
        dests = {}
        if tokens[0] == "FWM":
            mark = int(tokens[1], 16)
            continue
        mark = None
        if tokens[0] not in LABEL_PROTOCOL:
            continue  # AH, ESP ...: ipvsadm lists them as "?" and the listing parser skips them too
        address, port = _proc_address(tokens[1])
        result[(LABEL_PROTOCOL[tokens[0]], address, port)] = dests
    return {key: value for key, value in result.items() if key[0] != FWMARK or key[2] not in ambiguous}


def _proc_key(key: ServiceKey) -> tuple[str, str, int]:
    return (FWMARK, key.family, key.fwmark) if key.is_fwmark else (key.protocol, key.address, key.port)


def merge_proc(listing: IpvsTable, proc: dict[tuple[str, str, int], ProcDests]) -> bool:
    """Set forwarding and weight of every real server of ``listing`` from :func:`parse_proc_ip_vs`.

    False, and ``listing`` possibly half merged, when the two do not describe the same real servers (the
    table changed between the reads, or an address was written differently): read ``ipvsadm -Ln`` instead.
    """
    for svc in listing.services:
        dests = proc.pop(_proc_key(svc.key), {})
        if len(dests) != len(svc.real_servers):
            return False
        for rs in svc.real_servers:
            found = dests.get(rs.key)
            if found is None:
                return False
            rs.forwarding, rs.weight = found
    return not proc  # a service only in the file: the table changed in between


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


# --------------------------------------------------------------------------- arguments


def service_options(svc: VirtualService) -> list[str]:
    """Scheduler/persistence options of a service, in the order ``ipvsadm -S`` prints them."""
    args = ["-s", svc.scheduler]
    if svc.persistent:
        args += ["-p", str(svc.persistence_timeout)]
        if svc.persistence_netmask != HOST_NETMASK[svc.key.family]:
            args += ["-M", svc.persistence_netmask]
    if svc.persistence_engine:
        args += ["--pe", svc.persistence_engine]
    if svc.one_packet:
        args.append("-o")
    if svc.scheduler_flags:
        args += ["-b", ",".join(svc.scheduler_flags)]
    return args


def _forwarding_switch(rs: RealServer) -> str:
    return FORWARDING_SWITCH.get("dr" if rs.forwarding == "local" else rs.forwarding, "-g")


def server_options(rs: RealServer) -> list[str]:
    args = [_forwarding_switch(rs), "-w", str(rs.weight)]
    if rs.upper_threshold:
        args += ["-x", str(rs.upper_threshold)]
    if rs.lower_threshold:
        args += ["-y", str(rs.lower_threshold)]
    return args


def _line(*parts: Sequence[str]) -> str:
    return " ".join(word for part in parts for word in part)


def add_service_line(svc: VirtualService) -> str:
    return _line(["-A"], svc.key.ipvsadm_args(), service_options(svc))


def edit_service_line(svc: VirtualService) -> str:
    return _line(["-E"], svc.key.ipvsadm_args(), service_options(svc))


def delete_service_line(key: ServiceKey) -> str:
    return _line(["-D"], key.ipvsadm_args())


def server_line(command: str, key: ServiceKey, rs: RealServer, selector: Optional[str] = None) -> str:
    """``-a``/``-e``/``-d`` line of a real server; ``selector`` is ``key.rule()`` when the caller has it already
    (a large plan renders every real server of a service with it)."""
    head = f"{command} {selector or key.rule()} -r {format_host_port(rs.address, rs.port)}"
    if command == "-d":
        return head
    line = f"{head} {_forwarding_switch(rs)} -w {rs.weight}"
    if rs.upper_threshold:
        line += f" -x {rs.upper_threshold}"
    if rs.lower_threshold:
        line += f" -y {rs.lower_threshold}"
    return line


# --------------------------------------------------------------------------- save format


def _c_int(value: int) -> int:
    """The int result of a C subtraction of two 32-bit unsigned values."""
    value &= 0xFFFFFFFF
    return value - 2**32 if value & 0x80000000 else value


def _address_words(address: str) -> list[int]:
    ip = ipaddress.ip_address(address)
    packed = ip.packed
    return [int.from_bytes(packed[i : i + 4], "big") for i in range(0, len(packed), 4)]


def _cmp_addresses(a: str, a_is_v6: bool, b: str) -> int:
    wa, wb = _address_words(a) if a else [0], _address_words(b) if b else [0]
    wa += [0] * (4 - len(wa))
    wb += [0] * (4 - len(wb))
    if a_is_v6:
        for x, y in zip(wa, wb):
            r = _c_int(x - y)
            if r:
                return r
        return 0
    return _c_int(wa[0] - wb[0])


def ipvsadm_compare_services(a: ServiceKey, b: ServiceKey) -> int:
    """ipvs_cmp_services() of libipvs, including its 32-bit wrap-around."""
    r = _c_int(a.fwmark - b.fwmark)
    if r:
        return r
    af = {"ipv4": 2, "ipv6": 10}
    r = af[a.family] - af[b.family]
    if r:
        return r
    r = a.protocol_number - b.protocol_number
    if r:
        return r
    r = _cmp_addresses(a.address, a.family == IPV6, b.address)
    if r:
        return r
    return a.port - b.port


def ipvsadm_compare_servers(a: RealServer, b: RealServer) -> int:
    """ipvs_cmp_dests() of libipvs."""
    r = _cmp_addresses(a.address, ":" in a.address, b.address)
    if r:
        return r
    return a.port - b.port


def render_service(svc: VirtualService) -> list[str]:
    """Lines ``ipvsadm -Sn`` (1.31) prints for one service, real servers in libipvs's order."""
    lines = [add_service_line(svc)]
    servers = sorted(svc.real_servers, key=cmp_to_key(ipvsadm_compare_servers))
    selector = svc.key.ipvsadm_args()
    for rs in servers:
        words = ["-a", *selector, "-r", format_host_port(rs.address, rs.port), _forwarding_switch(rs), "-w",
                 str(rs.weight)]
        if rs.forwarding == "tunnel":
            words += ["--tun-type", "ipip"]
        lines.append(" ".join(words))
    return lines


def render_services(services: Sequence[VirtualService]) -> str:
    """Save-format text of the given services, in the given order (used for diffs)."""
    return "".join(line + "\n" for svc in services for line in render_service(svc))


def parse_save_key(line: str) -> Optional[ServiceKey]:
    """The service key of a ``-A``/``-a`` line of ``ipvsadm -Sn`` output (None if not a rule)."""
    words = line.split()
    if len(words) < 3 or words[0] not in ("-A", "-a"):
        return None
    switch, value = words[1], words[2]
    if switch == "-f":
        family = IPV6 if len(words) > 3 and words[3] == "-6" else "ipv4"
        mark = int(value)
        return ServiceKey(FWMARK, family, fwmark=mark + 2**32 if mark < 0 else mark)
    if switch not in _SWITCH_PROTOCOL:
        return None
    address, port = split_host_port(value)
    return ServiceKey(_SWITCH_PROTOCOL[switch], IPV6 if ":" in address else "ipv4", address, port or 0)
