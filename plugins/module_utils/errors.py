# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base class of every failure a module reports.

Helpers raise; each module's ``main()`` hands its work to :func:`exit_with`,
the one place where an :class:`LvsDrError` becomes ``module.fail_json`` and a
result becomes ``module.exit_json``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional


class LvsDrError(Exception):
    """A failure with its message and the extra result fields (``parameter``, ``cmd``, ...) it reports."""

    def __init__(self, msg: str, **fields: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.fields = fields

    def fail_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``module.fail_json``."""
        return {"msg": self.msg, **self.fields}


def exit_with(module: Any, work: Callable[[], dict[str, Any]], extra: Optional[dict[str, Any]] = None) -> None:
    """Run a module's work and report it: its result, or its failure; ``extra`` goes into both."""
    try:
        result = work()
    except LvsDrError as exc:
        module.fail_json(**exc.fail_kwargs(), **(extra or {}))
    module.exit_json(**result, **(extra or {}))
