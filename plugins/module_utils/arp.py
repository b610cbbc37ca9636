# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ARP probes over a raw ``AF_PACKET`` socket (standard library only).

The frame building and parsing functions are pure and unit-tested; only
:func:`probe` touches the host.  The wire format is RFC 826 for Ethernet and
IPv4 (hardware type 1, protocol type 0x0800); the default probe is the
RFC 5227 form (sender protocol address 0.0.0.0, as ``arping -D`` sends), which
a host answers without adding the sender to its neighbour table.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import time
from typing import Any, Callable, NamedTuple, Optional

from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.iproute import validate_ifname

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
ARPOP_REPLY = 2
PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent, seen by the tap
BROADCAST_MAC = b"\xff" * 6
ZERO_MAC = b"\x00" * 6
DAD_SOURCE = "0.0.0.0"
ETH_HEADER = struct.Struct("!6s6sH")
ARP_BODY = struct.Struct("!HHBBH6s4s6s4s")
FRAME_LENGTH = ETH_HEADER.size + ARP_BODY.size  # 42
MIN_FRAME = 60  # shortest Ethernet frame without the FCS; shorter frames are padded with zeros

MAX_COUNT = 1000
MAX_TIMEOUT = 300.0


class ArpError(LvsDrError):
    """The probe could not run; ``parameter`` names the option at fault, when one is (None otherwise)."""

    def __init__(self, msg: str, parameter: Optional[str] = None) -> None:
        super().__init__(msg, parameter=parameter)
        self.parameter = parameter


class ArpPacket(NamedTuple):
    """The fields of one received Ethernet/IPv4 ARP frame that matter here."""

    operation: int
    sender_mac: str
    sender_ip: str
    target_mac: str
    target_ip: str


# --------------------------------------------------------------------------- pure helpers


def format_mac(raw: bytes) -> str:
    return ":".join(f"{byte:02x}" for byte in raw)


def validate_ipv4(value: object, parameter: str) -> str:
    """Canonical text of an IPv4 address; ArpError naming ``parameter`` otherwise."""
    if not isinstance(value, str):
        raise ArpError(f"{parameter}: {value!r} is not an IPv4 address", parameter)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ArpError(f"{parameter}: {value!r} is not an IPv4 address", parameter) from None
    if address.version == 6:
        raise ArpError(
            f"{parameter}: {value!r} is an IPv6 address; ARP exists for IPv4 only "
            "(IPv6 neighbour discovery is not supported)",
            parameter,
        )
    return str(address)


def validate_target(value: object, parameter: str = "address") -> str:
    address = validate_ipv4(value, parameter)
    ip = ipaddress.IPv4Address(address)
    if ip.is_unspecified or ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise ArpError(f"{parameter}: {address} cannot be probed with ARP (unspecified, multicast or broadcast)",
                       parameter)
    return address


def validate_targets(values: object) -> list[str]:
    """The ``addresses`` option: a non-empty list of IPv4 addresses, duplicates dropped in order."""
    if not isinstance(values, list) or not values:
        raise ArpError(f"addresses: give a non-empty list of IPv4 addresses (got {values!r})", "addresses")
    targets: list[str] = []
    for index, value in enumerate(values):
        target = validate_target(value, f"addresses[{index}]")
        if target not in targets:
            targets.append(target)
    return targets


def validate_source(value: object) -> str:
    """The sender IP; ``None`` means the duplicate-address-detection probe (0.0.0.0)."""
    if value is None:
        return DAD_SOURCE
    address = validate_ipv4(value, "source")
    ip = ipaddress.IPv4Address(address)
    if ip.is_multicast or ip == ipaddress.IPv4Address("255.255.255.255"):
        raise ArpError(f"source: {address} cannot be the sender of an ARP request", "source")
    return address


def validate_device(value: object) -> str:
    problem = validate_ifname(value) if isinstance(value, str) else f"{value!r} is not an interface name"
    if problem:
        raise ArpError(f"device: {problem}", "device")
    return str(value)


def validate_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        raise ArpError(f"count: must be an integer between 1 and {MAX_COUNT} (got {value!r})", "count")
    return value


def validate_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_TIMEOUT:
        raise ArpError(f"timeout: must be a number of seconds above 0 and at most {MAX_TIMEOUT:g} (got {value!r})",
                       "timeout")
    return float(value)


def build_request(sender_mac: bytes, sender_ip: str, target_ip: str) -> bytes:
    """A broadcast Ethernet frame carrying an ARP request "who has ``target_ip``", padded to 60 bytes."""
    if len(sender_mac) != 6:
        raise ValueError("sender_mac must be 6 bytes")
    frame = ETH_HEADER.pack(BROADCAST_MAC, sender_mac, ETH_P_ARP) + ARP_BODY.pack(
        ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST,
        sender_mac, ipaddress.IPv4Address(sender_ip).packed,
        ZERO_MAC, ipaddress.IPv4Address(target_ip).packed,
    )
    return frame.ljust(MIN_FRAME, b"\x00")


def parse_frame(frame: bytes) -> Optional[ArpPacket]:
    """The ARP fields of an Ethernet frame, None for anything but Ethernet/IPv4 ARP."""
    if len(frame) < FRAME_LENGTH:
        return None
    _dst, _src, ethertype = ETH_HEADER.unpack_from(frame)
    if ethertype != ETH_P_ARP:
        return None
    htype, ptype, hlen, plen, operation, sha, spa, tha, tpa = ARP_BODY.unpack_from(frame, ETH_HEADER.size)
    if (htype, ptype, hlen, plen) != (ARPHRD_ETHER, ETH_P_IP, 6, 4):
        return None
    return ArpPacket(
        operation, format_mac(sha), str(ipaddress.IPv4Address(spa)), format_mac(tha), str(ipaddress.IPv4Address(tpa))
    )


def is_answer(packet: ArpPacket, target_ip: str, own_mac: str) -> bool:
    """Does ``packet`` show another host using ``target_ip``?

    A reply from it, or a request it sends with ``target_ip`` as its own
    address (RFC 5227 2.1.1 counts both as a conflict).  Frames from our own
    MAC never count.
    """
    return (
        packet.operation in (ARPOP_REPLY, ARPOP_REQUEST)
        and packet.sender_ip == target_ip
        and packet.sender_mac != own_mac
    )


def collect_answers(packets: list[ArpPacket], target_ip: str, own_mac: str) -> list[dict[str, str]]:
    """Answers as ``{mac, ip}``, deduplicated, in order of arrival."""
    answers: list[dict[str, str]] = []
    for packet in packets:
        if is_answer(packet, target_ip, own_mac):
            entry = {"mac": packet.sender_mac, "ip": packet.sender_ip}
            if entry not in answers:
                answers.append(entry)
    return answers


def send_times(count: int, timeout: float) -> list[float]:
    """Offsets (seconds from the start) of the requests: ``count`` of them spread evenly over ``timeout``."""
    return [timeout * index / count for index in range(count)]


# --------------------------------------------------------------------------- the socket part


def open_socket(device: str) -> tuple[Any, bytes]:
    """A raw ARP socket bound to ``device`` and the device's MAC address."""
    try:
        socket.if_nametoindex(device)
    except OSError:
        raise ArpError(f"device: no such interface: '{device}'", "device") from None
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except PermissionError:
        raise ArpError("opening a raw AF_PACKET socket needs root (or CAP_NET_RAW): use become") from None
    except OSError as exc:
        raise ArpError(f"cannot open a raw AF_PACKET socket: {exc.strerror}") from None
    try:
        sock.bind((device, ETH_P_ARP))
        _name, _proto, _pkttype, hatype, mac = sock.getsockname()
    except OSError as exc:
        sock.close()
        raise ArpError(f"device: cannot bind to '{device}': {exc.strerror}", "device") from None
    if hatype != ARPHRD_ETHER or len(mac) != 6:
        sock.close()
        raise ArpError(
            f"device: '{device}' is not an Ethernet device (hardware type {hatype}); ARP needs one", "device"
        )
    return sock, mac


def probe(
    device: str,
    target_ips: list[str],
    *,
    sender_ip: str = DAD_SOURCE,
    count: int = 3,
    timeout: float = 2.0,
    clock: Callable[[], float] = time.monotonic,
    opener: Callable[[str], tuple[Any, bytes]] = open_socket,
) -> dict[str, Any]:
    """Ask for every address of ``target_ips`` at once out of ``device``; report the answers per address.

    ``count`` requests for each address are spread over ``timeout`` seconds
    (one round sends one request per address), and every answer that arrives
    until then is kept, so probing many addresses takes as long as one.
    ``clock`` and ``opener`` are replaced by the unit tests.
    """
    sock, mac = opener(device)
    own_mac = format_mac(mac)
    frames = [build_request(mac, sender_ip, target) for target in target_ips]
    packets: list[ArpPacket] = []
    schedule = send_times(count, timeout)
    sent = 0
    try:
        start = clock()
        end = start + timeout
        while True:
            now = clock()
            while sent < count and now >= start + schedule[sent]:
                for frame in frames:
                    _send(sock, frame, device)
                sent += 1
            if now >= end:
                # answers queued while this process waited for a CPU (a loaded host) arrived in time
                packets.extend(_drain(sock, device))
                break
            wake = min(end, start + schedule[sent]) if sent < count else end
            sock.settimeout(max(wake - now, 0.001))
            try:
                data, address = sock.recvfrom(2048)
            except socket.timeout:
                continue
            packet = _accept(data, address, device)
            if packet is not None:
                packets.append(packet)
    finally:
        sock.close()
    results = []
    for target in target_ips:
        answers = collect_answers(packets, target, own_mac)
        results.append({"address": target, "answered": bool(answers), "answers": answers})
    return {"results": results, "device": device, "device_mac": own_mac, "source": sender_ip, "sent": sent}


def _accept(data: bytes, address: tuple[Any, ...], device: str) -> Optional[ArpPacket]:
    """The ARP packet of a frame received on ``device``, not sent by us; None otherwise."""
    # (ifname, protocol, packet type, ...): frames queued before bind() may come from other devices
    if address[0] != device or address[2] == PACKET_OUTGOING:
        return None
    return parse_frame(data)


def _drain(sock: Any, device: str) -> list[ArpPacket]:
    """The packets already queued on the socket, without waiting for more."""
    packets = []
    sock.settimeout(0)
    while True:
        try:
            data, address = sock.recvfrom(2048)
        except OSError:  # socket.timeout and BlockingIOError: the queue is empty
            return packets
        packet = _accept(data, address, device)
        if packet is not None:
            packets.append(packet)


def _send(sock: Any, frame: bytes, device: str) -> None:
    try:
        sock.send(frame)
    except OSError as exc:
        if exc.errno == errno.ENETDOWN:
            raise ArpError(f"device: '{device}' is down", "device") from None
        raise ArpError(f"device: sending on '{device}' failed: {exc.strerror}", "device") from None
