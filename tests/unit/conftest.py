"""Make ``ansible_collections.lvs.dr`` importable when pytest runs outside ansible-test.

``ansible-test units`` lays the collection out itself, and under it the
import below succeeds, so this file does nothing there.  Plain ``pytest``
(the fast inner loop, ``make units``, or a user running the shipped unit
tests of an installed collection) gets the directory that holds
``ansible_collections`` on ``sys.path``: the tree's own when it already sits at
``.../ansible_collections/lvs/dr`` (an installed collection), otherwise a
temporary one with a symlink to this tree (a plain checkout).
"""

from __future__ import annotations

import atexit
import importlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

TREE = Path(__file__).resolve().parents[2]


def _collection_root() -> Path:
    if TREE.parent.name == "lvs" and TREE.parent.parent.name == "ansible_collections":
        return TREE.parents[2]
    root = Path(tempfile.mkdtemp(prefix="lvs-dr-units-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # removes the link, not what it points at
    link = root / "ansible_collections" / "lvs" / "dr"
    link.parent.mkdir(parents=True)
    os.symlink(TREE, link)
    return root


try:
    importlib.import_module("ansible_collections.lvs.dr")
except ImportError:
    sys.path.insert(0, str(_collection_root()))
    for name in [m for m in sys.modules if m == "ansible_collections" or m.startswith("ansible_collections.")]:
        del sys.modules[name]


@pytest.fixture(autouse=True)
def _no_direct_ipvs_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The modules' tests drive a fake ipvsadm: never read or change the IPVS table of the machine running them."""
    from ansible_collections.lvs.dr.plugins.module_utils import ipvsadm  # noqa: PLC0415 -- after the path set-up

    monkeypatch.setattr(ipvsadm, "read_direct", lambda: None)
    # nor write to it: the changes go to the fake ipvsadm's -R
    monkeypatch.setattr(ipvsadm, "write_direct", lambda _operations: None)
