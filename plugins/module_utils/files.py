# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading and atomically replacing the small files the modules persist."""

from __future__ import annotations

import os
import tempfile
from typing import Optional

from ansible.module_utils.basic import AnsibleModule


def read_file(path: str) -> Optional[str]:
    """Content of ``path``, None when it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def read_text(path: str) -> Optional[str]:
    """Content of a file a module only reads (/proc, /sys, /lib/modules, /etc/os-release); None when it
    cannot be read for any reason."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def file_target_problem(path: str) -> Optional[str]:
    """Why :func:`write_atomic` could not create or replace ``path``, None when it can.

    Checked before anything changes: ``path`` must not be a directory and its
    directory must exist, be a directory and be writable (the temporary file
    and the rename both live there).
    """
    if os.path.isdir(path):
        return "is a directory, expected a file name"
    directory = os.path.dirname(path) or "."
    if not os.path.exists(directory):
        return f"directory {directory} does not exist"
    if not os.path.isdir(directory):
        return f"{directory} is not a directory"
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"directory {directory} is not writable"
    return None


def write_atomic(module: AnsibleModule, path: str, content: str, mode: int, prefix: str) -> None:
    """Replace ``path`` with ``content`` (file ``mode``) through a temporary file in the same directory."""
    fd, tmp = tempfile.mkstemp(prefix=prefix, dir=os.path.dirname(path) or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(content)
        os.chmod(tmp, mode)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
