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
