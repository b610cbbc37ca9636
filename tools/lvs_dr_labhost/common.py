"""What every part of the lab host uses: errors, logging, directories, commands, names."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent.parent
LAB = TOOLS / "images"
NODE_IMAGE_REPO = "lvs-dr/node"
DEFAULT_SUITES = ("bookworm", "trixie")
SUITE_TAGS = {"bookworm": "debian12", "trixie": "debian13"}


class LabError(Exception):
    """A failure with a message meant for the user."""


def log(msg: str) -> None:
    # One write per line: the guest disk and the node images log from two threads.
    sys.stderr.write(f"labhost: {msg}\n")
    sys.stderr.flush()


def cache_dir() -> Path:
    base = os.environ.get("LVS_DR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "lvs-dr"
    )
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def run_dir() -> Path:
    """Where the running guest's state lives (LVS_DR_RUN_DIR lets a benchmark run a second guest)."""
    path = Path(os.environ.get("LVS_DR_RUN_DIR") or cache_dir() / "run")
    path.mkdir(parents=True, exist_ok=True)
    return path


def run(argv: list[str], *, capture: bool = False, check: bool = True, **kw: object) -> subprocess.CompletedProcess:
    env = dict(os.environ, LANG="C", LC_ALL="C")
    env.update(kw.pop("env", {}) or {})  # type: ignore[arg-type]
    proc = subprocess.run(argv, check=False, capture_output=capture, text=True, env=env, **kw)  # type: ignore[call-overload]
    if check and proc.returncode != 0:
        detail = (proc.stderr or "").strip()[-2000:] if capture else ""
        raise LabError(f"command failed ({proc.returncode}): {' '.join(argv)}\n{detail}")
    return proc


def digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            h.update(part.read_bytes())
        else:
            h.update(str(part).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def suites() -> list[str]:
    raw = os.environ.get("LVS_DR_SUITES", " ".join(DEFAULT_SUITES))
    names = raw.replace(",", " ").split()
    for name in names:
        if name not in SUITE_TAGS:
            raise LabError(f"LVS_DR_SUITES: unknown Debian suite {name!r} (known: {', '.join(SUITE_TAGS)})")
    return names


def node_image_tag(suite: str) -> str:
    return f"{NODE_IMAGE_REPO}:{SUITE_TAGS[suite]}"


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
