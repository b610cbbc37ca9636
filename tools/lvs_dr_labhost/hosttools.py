"""The host's prerequisites: its tools, its Debian mirror, root where debootstrap needs it."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from .common import LabError


def need_tools(tools: dict[str, str]) -> None:
    missing = sorted({pkg for tool, pkg in tools.items() if not shutil.which(tool)})
    if missing:
        raise LabError(
            "missing host tools; install the Debian packages: apt-get install -y " + " ".join(missing)
            + "  (or run 'make deps')"
        )


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive the host's apt already uses (or LVS_DR_DEBIAN_MIRROR)."""
    override = os.environ.get("LVS_DR_DEBIAN_MIRROR")
    if override:
        return override.rstrip("/")
    candidates: list[str] = []
    sources = apt_dir / "sources.list.d"
    for path in sorted(sources.glob("*.sources")) if sources.is_dir() else []:
        for stanza in path.read_text().split("\n\n"):
            fields = dict(
                line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith("#")
            )
            suites_field = fields.get("Suites", "")
            if "security" in suites_field or not fields.get("URIs"):
                continue
            candidates.extend(fields["URIs"].split())
    legacy = apt_dir / "sources.list"
    if legacy.is_file():
        for line in legacy.read_text().splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m and "security" not in m.group(2):
                candidates.append(m.group(1))
    for uri in candidates:
        if "/debian" in uri and "security" not in uri:
            return uri.rstrip("/")
    raise LabError(
        "no Debian archive found in /etc/apt sources; set LVS_DR_DEBIAN_MIRROR to a Debian mirror URL"
    )


def require_root(why: str) -> None:
    if os.geteuid() != 0:
        raise LabError(f"{why} needs root (debootstrap and chroot); run it with sudo")
