# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Generic netlink framing shared by the IPVS table reader and writer (standard library only).

The message and attribute headers of ``linux/netlink.h`` and ``linux/genetlink.h`` and the controller's family
lookup: :mod:`ipvs_sockopt` uses them to find the IPVS family and dump the services, :mod:`ipvs_netlink` to send
a plan's changes. The IPVS family's own numbers are in :mod:`ipvs_uapi`.
"""

from __future__ import annotations

import struct

NETLINK_GENERIC = 16
NLMSG = struct.Struct("=IHHII")  # length, type, flags, sequence, port id (linux/netlink.h)
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
GENL = struct.Struct("=BBH")  # command, version, reserved (linux/genetlink.h)
NLA = struct.Struct("=HH")  # length, type
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2


def attribute(kind: int, payload: bytes) -> bytes:
    """One netlink attribute: header, payload, padding to 4 bytes."""
    length = NLA.size + len(payload)
    return NLA.pack(length, kind) + payload + bytes(-length & 3)
