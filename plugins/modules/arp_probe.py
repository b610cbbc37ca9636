#!/usr/bin/python
# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: arp_probe
short_description: Ask the local network with ARP who answers for IPv4 addresses
version_added: "0.1.0"
description:
  - Sends ARP requests for O(address) (or for every address of O(addresses) at once) out of O(device) and
    reports every host that answered, with its MAC address. Read-only; it never reports a change.
  - With O(addresses), one round sends one request per address, so probing many addresses takes as long as
    probing one; the answers are reported per address in RV(results).
  - By default the requests are duplicate address detection probes (RFC 5227, what C(arping -D) sends);
    the sender IP address is C(0.0.0.0), so the hosts that answer do not add this host to their neighbour
    tables. O(source) sends ordinary requests instead.
  - For LVS direct routing, run it on the director for the VIP before the VIP is configured; no answer means
    no other host (in particular no real server without ARP suppression) claims the VIP. A real server that
    holds the VIP on C(lo) with C(arp_ignore=1) and C(arp_announce=2) does not answer.
  - A host counts as answering when it sends an ARP reply from O(address), or an ARP request with O(address)
    as its own sender address (RFC 5227 treats both as a conflict). The requests never reach this host's own
    IP stack, so O(address) already on O(device) is not reported (a re-run after the VIP is configured still
    finds no answer); on another device of this host attached to the same network it is, like any host.
  - IPv4 only. IPv6 uses neighbour discovery (NDP), which this module does not speak; an IPv6 O(address)
    is an error.
  - Uses a raw C(AF_PACKET) socket from the Python standard library; no C(arping) is needed.
author:
  - lvs.dr contributors (!UNKNOWN)
requirements:
  - Linux, and root or C(CAP_NET_RAW) on the managed host (use C(become)).
options:
  address:
    description:
      - The IPv4 address to ask for, for example the VIP.
      - Exactly one of O(address) and O(addresses) is required.
    type: str
  addresses:
    description:
      - Several IPv4 addresses to ask for in one probe, for example every real server. Duplicates are asked
        for once.
      - Exactly one of O(address) and O(addresses) is required.
    type: list
    elements: str
    version_added: "0.2.0"
  device:
    description:
      - The Ethernet device the requests leave from, for example the director's NIC. It must exist, be up
        and be an Ethernet device (C(lo), tunnels and other devices without ARP are refused).
    type: str
    required: true
  count:
    description:
      - Number of requests sent for each address, spread evenly over O(timeout).
    type: int
    default: 3
  timeout:
    description:
      - Seconds the probe lasts; answers are collected until then. Between 0 and 300.
    type: float
    default: 2
  source:
    description:
      - Sender IPv4 address of the requests.
      - Without it the sender address is C(0.0.0.0) (a duplicate address detection probe), which changes no
        neighbour table. With it, the answering hosts may add or refresh an entry mapping O(source) to this
        host's MAC address, as with any ARP request; pass an address of this host only.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module changes nothing on the managed host, so it sends the same probes in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: linux
notes:
  - The answer only covers the layer 2 segment of O(device); hosts behind a router are not asked.
  - Answers are counted while the probe lasts; a host that answers later than O(timeout) is missed.
seealso:
  - module: lvs.dr.lvs_sysctl_arp
  - module: lvs.dr.lvs_loopback_vip
"""

EXAMPLES = r"""
- name: Nobody may answer for the VIP yet (run on the director before putting the VIP on its NIC)
  lvs.dr.arp_probe:
    address: 192.168.206.150
    device: ens33
  register: vip_probe
  become: true

- name: Fail with the MAC addresses that claim the VIP
  ansible.builtin.assert:
    that: not vip_probe.answered
    fail_msg: "192.168.206.150 is already answered for by {{ vip_probe.answers | map(attribute='mac') | join(', ') }}"

- name: A real server answers ARP from the director's own address
  lvs.dr.arp_probe:
    address: 192.168.206.128
    device: ens33
    source: 192.168.206.130
    count: 2
    timeout: 1
  become: true

- name: Every real server must answer from the director's segment (one probe for all of them)
  lvs.dr.arp_probe:
    addresses: [192.168.206.128, 192.168.206.129]
    device: ens33
    source: 192.168.206.130
    count: 2
    timeout: 1
  register: rs_probe
  become: true

- name: Name the real servers that did not answer
  ansible.builtin.assert:
    that: rs_probe.results | rejectattr('answered') | list | length == 0
    fail_msg: "{{ rs_probe.results | rejectattr('answered') | map(attribute='address') | join(', ') }} did not answer"
"""

RETURN = r"""
answered:
  description: Whether any other host answered for O(address).
  returned: when O(address) is given
  type: bool
  sample: false
answers:
  description: The hosts that answered, deduplicated, in order of arrival.
  returned: when O(address) is given
  type: list
  elements: dict
  contains:
    mac: {description: MAC address of the answering host (lower case)., type: str, returned: success}
    ip: {description: The IPv4 address it answered for (O(address))., type: str, returned: success}
  sample: [{"mac": "52:54:00:12:34:56", "ip": "192.168.206.150"}]
device:
  description: The device the requests left from.
  returned: success
  type: str
  sample: ens33
device_mac:
  description: MAC address of O(device), the sender hardware address of the requests.
  returned: success
  type: str
  sample: 52:54:00:ab:cd:ef
address:
  description: The address asked for, normalised.
  returned: when O(address) is given
  type: str
  sample: 192.168.206.150
results:
  description: One entry per address asked for (the one of O(address), or each of O(addresses) in order).
  returned: success
  type: list
  elements: dict
  contains:
    address:
      description: The address asked for, normalised.
      type: str
      returned: success
    answered: {description: Whether any other host answered for it., type: bool, returned: success}
    answers:
      description: The hosts that answered for it (C(mac) and C(ip)), deduplicated, in order of arrival.
      type: list
      elements: dict
      returned: success
  sample:
    - address: 192.168.206.128
      answered: true
      answers: [{"mac": "52:54:00:12:34:56", "ip": "192.168.206.128"}]
source:
  description: The sender IPv4 address of the requests; C(0.0.0.0) for the default probe.
  returned: success
  type: str
  sample: 0.0.0.0
sent:
  description: Number of requests sent for each address.
  returned: success
  type: int
  sample: 3
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.lvs.dr.plugins.module_utils import arp
from ansible_collections.lvs.dr.plugins.module_utils.errors import exit_with

ARGUMENT_SPEC: dict[str, Any] = {
    "address": {"type": "str"},
    "addresses": {"type": "list", "elements": "str"},
    "device": {"type": "str", "required": True},
    "count": {"type": "int", "default": 3},
    "timeout": {"type": "float", "default": 2},
    "source": {"type": "str"},
}


def validate(params: dict[str, Any]) -> dict[str, Any]:
    """The probe's arguments from the module parameters; ArpError naming the parameter otherwise."""
    single = params["address"] is not None
    return {
        "target_ips": [arp.validate_target(params["address"])] if single else arp.validate_targets(params["addresses"]),
        "device": arp.validate_device(params["device"]),
        "count": arp.validate_count(params["count"]),
        "timeout": arp.validate_timeout(params["timeout"]),
        "sender_ip": arp.validate_source(params["source"]),
    }


def run(params: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = {"changed": False, **arp.probe(**validate(params))}
    if params["address"] is not None:
        result.update(result["results"][0])
    return result


def main() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=[("address", "addresses")],
        required_one_of=[("address", "addresses")],
        supports_check_mode=True,
    )
    exit_with(module, lambda: run(module.params))


if __name__ == "__main__":
    main()
