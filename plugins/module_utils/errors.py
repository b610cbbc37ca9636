# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one base class of every failure a module reports.

Helpers raise; each module's ``main()`` catches :class:`LvsDrError` once and
hands :meth:`LvsDrError.fail_kwargs` to ``module.fail_json``. Nothing in
``module_utils`` calls ``fail_json`` itself.
"""

from __future__ import annotations

from typing import Any


class LvsDrError(Exception):
    """A failure with its message and the extra result fields (``parameter``, ``cmd``, ...) it reports."""

    def __init__(self, msg: str, **fields: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.fields = fields

    def fail_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``module.fail_json``."""
        return {"msg": self.msg, **self.fields}
