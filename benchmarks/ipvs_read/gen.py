#!/usr/bin/env python3
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gen.py N: ``ipvsadm -R`` input of N TCP services (198.18.0.1 up) x 3 DR real servers (198.19.0.1 up)."""

from __future__ import annotations

import sys
from ipaddress import IPv4Address


def main() -> None:
    count = int(sys.argv[1])
    vip, rip = IPv4Address("198.18.0.1"), IPv4Address("198.19.0.1")
    lines = []
    for i in range(count):
        lines.append(f"-A -t {vip + i}:80 -s wlc")
        lines.extend(f"-a -t {vip + i}:80 -r {rip + 3 * i + j}:80 -g -w 1" for j in range(3))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
