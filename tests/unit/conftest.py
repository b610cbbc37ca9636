"""Make ``ansible_collections.lvs.dr`` importable when pytest runs from a plain checkout.

``ansible-test units`` lays the collection out itself; plain ``pytest`` (the
fast inner loop and ``make units``) gets a symlinked collection root under
``.cache/collections`` instead.  Under ``ansible-test units`` the import
below succeeds, so this file does nothing there.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _collection_root() -> Path:
    root = REPO / ".cache" / "collections"
    link = root / "ansible_collections" / "lvs" / "dr"
    if not link.exists():
        if link.is_symlink():  # dangling: the checkout moved
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(REPO, link)
    return root


try:
    importlib.import_module("ansible_collections.lvs.dr")
except ImportError:
    sys.path.insert(0, str(_collection_root()))
    for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
        del sys.modules[name]
