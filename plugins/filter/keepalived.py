# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the director role's variables into the data of keepalived.conf.

Each filter is documented in the .yml file of its name beside this one; the
work is done in module_utils/keepalived.py (unit-tested without Ansible).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.lvs.dr.plugins.module_utils.keepalived import build_config, checked_out, vrrp_members


def keepalived_config(services: Sequence[Mapping[str, Any]], options: Mapping[str, Any]) -> dict[str, Any]:
    """``{errors, virtual_servers, vrrp}`` for keepalived.conf; see module_utils/keepalived.py."""
    return build_config(services, options)


def keepalived_vrrp_members(hosts: Sequence[str], hostvars: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{host, address, priority}`` of each director of the VRRP group."""
    return vrrp_members(hosts, hostvars)


def keepalived_checked_out(conf: str, services: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The real servers of keepalived.conf that the health checks took out of the live table."""
    return checked_out(conf, services)


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "keepalived_config": keepalived_config,
            "keepalived_vrrp_members": keepalived_vrrp_members,
            "keepalived_checked_out": keepalived_checked_out,
        }
