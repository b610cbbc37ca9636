# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One diff shape for every module.

Every module that can change something reports ``diff`` as a list of
``{before_header, after_header, before, after}`` entries, one per object it
compared (a kernel table, a file, a set of addresses), whatever the options:
callers and tests read one shape. The list is empty when nothing was compared.
"""

from __future__ import annotations

from typing import Any, Optional


class DiffCollector:
    """Before/after texts of the objects a module compared, in the order compared."""

    def __init__(self) -> None:
        self._entries: list[dict[str, str]] = []

    def add(self, header: str, before: str, after: str, after_header: Optional[str] = None) -> None:
        """Record one compared object under ``header`` (a path or a description).

        ``after_header`` names the after side when it differs (a file that is created or removed).
        """
        self._entries.append({"before_header": header, "after_header": header if after_header is None else after_header,
                              "before": before, "after": after})

    @property
    def entries(self) -> list[dict[str, str]]:
        """A copy of the recorded entries."""
        return [dict(entry) for entry in self._entries]

    @property
    def changed(self) -> bool:
        """True when any recorded object differs."""
        return any(entry["before"] != entry["after"] for entry in self._entries)

    def report(self, result: dict[str, Any], diff_mode: bool) -> dict[str, Any]:
        """Put the entries into ``result['diff']`` when diff mode is on; returns ``result``."""
        if diff_mode:
            result["diff"] = self.entries
        return result
