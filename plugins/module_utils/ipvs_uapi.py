# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The numbers of the kernel's IPVS interface, ``include/uapi/linux/ip_vs.h`` (standard library only).

The generic netlink family's name and version, its commands and the attribute types of a service, a real server
and the ``GET_INFO`` answer, and the service flags. :mod:`ipvs_netlink` writes with them, :mod:`ipvs_sockopt`
reads with them; ipvsadm's libipvs sends the same numbers.
"""

from __future__ import annotations

IPVS_GENL_NAME = "IPVS"
IPVS_GENL_VERSION = 1

# enum ipvs_cmds (IPVS_CMD_*)
CMD_NEW_SERVICE = 1
CMD_SET_SERVICE = 2
CMD_DEL_SERVICE = 3
CMD_GET_SERVICE = 4
CMD_NEW_DEST = 5
CMD_SET_DEST = 6
CMD_DEL_DEST = 7
CMD_GET_DEST = 8
CMD_GET_INFO = 15

# IPVS_CMD_ATTR_*: the outer attributes of a request
CMD_ATTR_SERVICE = 1
CMD_ATTR_DEST = 2

# IPVS_SVC_ATTR_*: inside CMD_ATTR_SERVICE
SVC_ATTR_AF = 1
SVC_ATTR_PROTOCOL = 2
SVC_ATTR_ADDR = 3
SVC_ATTR_PORT = 4
SVC_ATTR_FWMARK = 5
SVC_ATTR_SCHED_NAME = 6
SVC_ATTR_FLAGS = 7
SVC_ATTR_TIMEOUT = 8
SVC_ATTR_NETMASK = 9
SVC_ATTR_PE_NAME = 11

# IPVS_DEST_ATTR_*: inside CMD_ATTR_DEST
DEST_ATTR_ADDR = 1
DEST_ATTR_PORT = 2
DEST_ATTR_FWD_METHOD = 3
DEST_ATTR_WEIGHT = 4
DEST_ATTR_U_THRESH = 5
DEST_ATTR_L_THRESH = 6
DEST_ATTR_ACTIVE_CONNS = 7
DEST_ATTR_INACT_CONNS = 8
DEST_ATTR_ADDR_FAMILY = 11

# IPVS_INFO_ATTR_*: the answer to CMD_GET_INFO
INFO_ATTR_VERSION = 1
INFO_ATTR_CONN_TAB_SIZE = 2

# IP_VS_SVC_F_*: service flags (the three scheduler flags mean what each scheduler makes of them)
SVC_F_PERSISTENT = 0x0001
SVC_F_ONEPACKET = 0x0004
SVC_F_SCHED1 = 0x0008
SVC_F_SCHED2 = 0x0010
SVC_F_SCHED3 = 0x0020
