"""Who answers ARP for an address, asked again and again: the client's view while a node boots.

Usage: python3 arp_watch.py IFACE ADDRESS SECONDS STOP_FILE

Until SECONDS have passed or STOP_FILE exists, broadcasts an ARP request for ADDRESS from IFACE every
50 ms (as arping does) and counts the replies by the MAC address of the sender. Prints JSON: requests
sent, replies per MAC. Needs root (a raw packet socket).
"""

import fcntl
import json
import os
import socket
import struct
import sys
import time

IFACE, ADDRESS, SECONDS, STOP = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
ETH_P_ARP = 0x0806
SIOCGIFADDR = 0x8915

sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
sock.bind((IFACE, ETH_P_ARP))
own_mac = sock.getsockname()[4]
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
    own_ip = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", IFACE.encode()[:15]))[20:24]
target = socket.inet_aton(ADDRESS)
# Ethernet broadcast, then an ARP request: Ethernet/IPv4, who has ADDRESS, tell own_ip
request = (b"\xff" * 6 + own_mac + struct.pack("!H", ETH_P_ARP)
           + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + own_mac + own_ip + b"\x00" * 6 + target)

sent = 0
replies: dict = {}
end = time.monotonic() + SECONDS
while time.monotonic() < end and not os.path.exists(STOP):
    sock.send(request)
    sent += 1
    wait_until = time.monotonic() + 0.05
    while True:
        left = wait_until - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            frame = sock.recv(128)
        except socket.timeout:
            break
        # an ARP reply (opcode 2) whose sender protocol address is ADDRESS
        if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x02" and frame[28:32] == target:
            sender = frame[22:28].hex(":")
            replies[sender] = replies.get(sender, 0) + 1
print(json.dumps({"requests": sent, "replies": replies}))
