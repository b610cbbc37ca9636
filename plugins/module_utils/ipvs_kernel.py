# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the running kernel offers for IPVS, read from /proc, /sys and /lib/modules (no ipvsadm, no modprobe).

* IPVS is present when ``/proc/net/ip_vs`` exists (``ip_vs`` loaded or built
  in); its first line gives the version and the connection table size.
* A scheduler is *loaded* when ``/sys/module/ip_vs_<name>`` exists or
  ``modules.builtin`` lists it (built in: always in the kernel), *loadable*
  when ``modules.dep`` of ``/lib/modules/<release>`` lists it (any compression
  suffix; the kernel loads it the first time a service uses it), *missing*
  when both lists were read and name it nowhere, and *unknown* when they
  could not be read -- typical in a container, which sees the host's
  ``/sys/module`` but not its ``/lib/modules``.

Every root is a parameter so the unit tests run on fake trees.
"""

from __future__ import annotations

import os
import platform
import re
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.files import read_text
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import SCHEDULERS

PROC_ROOT = "/proc"
SYS_ROOT = "/sys"
MODULES_ROOT = "/lib/modules"
IPVS_MODULE = "ip_vs"
# "IP Virtual Server version 1.2.1 (size=4096)" (ip_vs_info_seq_show in ip_vs_ctl.c)
_PROC_HEADER = re.compile(r"IP Virtual Server version (\d+\.\d+\.\d+) \(size=(\d+)\)")
# kernel/net/netfilter/ipvs/ip_vs_rr.ko, .ko.xz, .ko.zst, .ko.gz ...
_MODULE_PATH = re.compile(r"(?:^|/)([^/]+)\.ko(?:\.[A-Za-z0-9]+)?$")


def scheduler_module(name: str) -> str:
    return f"{IPVS_MODULE}_{name}"


def module_name(path: str) -> Optional[str]:
    """``ip_vs_rr`` from ``kernel/net/netfilter/ipvs/ip_vs_rr.ko.zst``; names use '_' (modprobe treats '-' alike)."""
    match = _MODULE_PATH.search(path.strip())
    return match.group(1).replace("-", "_") if match else None


def parse_modules_dep(text: str) -> set[str]:
    """Module names of ``modules.dep`` (``path: dependencies`` per line)."""
    names = set()
    for line in text.splitlines():
        path, sep, _deps = line.partition(":")
        name = module_name(path) if sep else None
        if name:
            names.add(name)
    return names


def parse_modules_builtin(text: str) -> set[str]:
    """Module names of ``modules.builtin`` (one ``.ko`` path per line)."""
    return {name for name in (module_name(line) for line in text.splitlines()) if name}


def parse_proc_ip_vs(text: str) -> tuple[Optional[str], Optional[int]]:
    """(version, connection table size) from the header of ``/proc/net/ip_vs``."""
    match = _PROC_HEADER.search(text.split("\n", 1)[0])
    if not match:
        return None, None
    return match.group(1), int(match.group(2))


def _read_first_line(path: str) -> Optional[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.readline()
    except OSError:
        return None


def kernel_release(proc_root: str = PROC_ROOT) -> str:
    text = read_text(os.path.join(proc_root, "sys", "kernel", "osrelease"))
    return text.strip() if text and text.strip() else platform.release()


@dataclass
class ModuleIndex:
    """``modules.dep`` and ``modules.builtin`` of one kernel release, None when they could not be read."""

    loadable: Optional[set[str]]
    builtin: Optional[set[str]]

    @property
    def known(self) -> bool:
        return self.loadable is not None and self.builtin is not None

    @classmethod
    def read(cls, release: str, modules_root: str = MODULES_ROOT) -> ModuleIndex:
        directory = os.path.join(modules_root, release)
        dep = read_text(os.path.join(directory, "modules.dep"))
        builtin = read_text(os.path.join(directory, "modules.builtin"))
        if dep is None or builtin is None:
            return cls(None, None)
        return cls(parse_modules_dep(dep), parse_modules_builtin(builtin))


@dataclass
class KernelInfo:
    release: str
    ipvs_present: bool
    ipvs_version: Optional[str]
    ipvs_table_size: Optional[int]
    ipvs_available: Optional[bool]
    modules_index: bool
    schedulers: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "release": self.release,
            "ipvs_present": self.ipvs_present,
            "ipvs_available": self.ipvs_available,
            "ipvs_version": self.ipvs_version,
            "ipvs_table_size": self.ipvs_table_size,
            "modules_index": self.modules_index,
            "schedulers": {state: list(names) for state, names in self.schedulers.items()},
        }


def scheduler_state(name: str, loaded_now: set[str], index: ModuleIndex) -> str:
    """``loaded``, ``loadable``, ``missing`` or ``unknown`` for one scheduler."""
    module = scheduler_module(name)
    if module in loaded_now or (index.builtin is not None and module in index.builtin):
        return "loaded"
    if not index.known:
        return "unknown"
    return "loadable" if index.loadable is not None and module in index.loadable else "missing"


def loaded_modules(sys_root: str = SYS_ROOT) -> set[str]:
    """Names under /sys/module (loaded modules, and built-in ones that have parameters)."""
    try:
        return {entry.replace("-", "_") for entry in os.listdir(os.path.join(sys_root, "module"))}
    except OSError:
        return set()


def _ipvs_available(present: bool, index: ModuleIndex) -> Optional[bool]:
    """True when present or in the module index, False when the index lacks it, None when unknown."""
    if present:
        return True
    if index.loadable is None or index.builtin is None:
        return None
    return IPVS_MODULE in index.loadable or IPVS_MODULE in index.builtin


def read_kernel_info(
    proc_root: str = PROC_ROOT,
    sys_root: str = SYS_ROOT,
    modules_root: str = MODULES_ROOT,
    release: Optional[str] = None,
) -> KernelInfo:
    release = release or kernel_release(proc_root)
    header = _read_first_line(os.path.join(proc_root, "net", "ip_vs"))
    present = header is not None
    version, size = parse_proc_ip_vs(header) if header else (None, None)
    index = ModuleIndex.read(release, modules_root)
    loaded_now = loaded_modules(sys_root)
    states: dict[str, list[str]] = {"available": [], "loaded": [], "loadable": [], "missing": [], "unknown": []}
    for name in SCHEDULERS:
        state = scheduler_state(name, loaded_now, index)
        states[state].append(name)
        if state in ("loaded", "loadable"):
            states["available"].append(name)
    return KernelInfo(
        release=release,
        ipvs_present=present,
        ipvs_version=version,
        ipvs_table_size=size,
        ipvs_available=_ipvs_available(present, index),
        modules_index=index.known,
        schedulers=states,
    )
