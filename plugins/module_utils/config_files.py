# Copyright: lvs.dr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Several small configuration files, compared and written as one batch.

validate (every entry, every target directory, every owner and group) ->
read (content and attributes of what is there) -> plan (pure: what differs)
-> apply (all new contents written to temporary files beside their targets
and checked with their ``validate`` command first; only when every check
passed is any file moved into place) -> re-read (the files now are what was
asked for).
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ansible_collections.lvs.dr.plugins.module_utils.errors import LvsDrError
from ansible_collections.lvs.dr.plugins.module_utils.files import file_target_problem

_MODE = re.compile(r"^0?[0-7]{3}$")
MAX_FILES = 64
MAX_BYTES = 1024 * 1024


class ConfigFilesError(LvsDrError):
    """An entry is invalid, a check of a new content failed, or a file did not end as planned."""


@dataclass(frozen=True)
class FileSpec:
    """One file as asked for."""

    path: str
    content: str
    mode: int
    owner: str
    group: str
    validate: Optional[str] = None


@dataclass(frozen=True)
class FileState:
    """One file as found: None content when it does not exist."""

    content: Optional[str]
    mode: Optional[int] = None
    owner: Optional[str] = None
    group: Optional[str] = None


@dataclass(frozen=True)
class FileChange:
    """What must happen to one file."""

    spec: FileSpec
    before: FileState
    content_changed: bool
    attributes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.content_changed or bool(self.attributes)

    def report(self) -> dict[str, Any]:
        return {"path": self.spec.path, "changed": self.changed, "created": self.before.content is None,
                "content_changed": self.content_changed, "attributes": list(self.attributes)}


def _parameter(index: int, key: str) -> str:
    return f"files[{index}].{key}"


def _mode(value: Any, index: int) -> int:
    if isinstance(value, str) and _MODE.match(value.strip()):
        return int(value.strip(), 8)
    raise ConfigFilesError(
        f"{_parameter(index, 'mode')}: {value!r} is not a file mode; give it as a quoted octal string such as '0644'",
        parameter=_parameter(index, "mode"),
    )


def _account(value: Any, index: int, key: str) -> str:
    lookup = pwd.getpwnam if key == "owner" else grp.getgrnam
    try:
        lookup(str(value))
    except KeyError:
        kind = "user" if key == "owner" else "group"
        raise ConfigFilesError(f"{_parameter(index, key)}: no {kind} '{value}' on this host",
                               parameter=_parameter(index, key)) from None
    return str(value)


def validate_entries(entries: Sequence[dict[str, Any]], check_mode: bool = False) -> list[FileSpec]:
    """The files as FileSpec; ConfigFilesError naming the first entry and key at fault. Reads, never writes.

    In check mode a missing directory is no error: an earlier task of the same
    run (a package, a ``file`` task) may be what creates it.
    """
    if not entries:
        raise ConfigFilesError("files: give at least one file", parameter="files")
    if len(entries) > MAX_FILES:
        raise ConfigFilesError(f"files: at most {MAX_FILES} files per task (got {len(entries)})", parameter="files")
    specs: list[FileSpec] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        path = entry.get("path")
        if not isinstance(path, str) or not os.path.isabs(path) or os.path.normpath(path) != path:
            raise ConfigFilesError(f"{_parameter(index, 'path')}: {path!r} is not a normalised absolute path",
                                   parameter=_parameter(index, "path"))
        if path in seen:
            raise ConfigFilesError(f"{_parameter(index, 'path')}: {path} is also files[{seen[path]}]",
                                   parameter=_parameter(index, "path"))
        seen[path] = index
        problem = file_target_problem(path)
        if problem and check_mode and not os.path.isdir(path) and not os.path.exists(os.path.dirname(path)):
            problem = None
        if problem:
            raise ConfigFilesError(f"{_parameter(index, 'path')}: {path}: {problem}",
                                   parameter=_parameter(index, "path"))
        content = entry.get("content")
        if not isinstance(content, str):
            raise ConfigFilesError(f"{_parameter(index, 'content')}: give the content as a string",
                                   parameter=_parameter(index, "content"))
        if len(content.encode("utf-8")) > MAX_BYTES:
            raise ConfigFilesError(f"{_parameter(index, 'content')}: more than {MAX_BYTES} bytes; use copy or template",
                                   parameter=_parameter(index, "content"))
        check = entry.get("validate")
        if check is not None and (not isinstance(check, str) or "%s" not in check):
            raise ConfigFilesError(f"{_parameter(index, 'validate')}: {check!r} must contain %s (the file to check)",
                                   parameter=_parameter(index, "validate"))
        specs.append(FileSpec(
            path=path,
            content=content,
            mode=_mode(entry.get("mode", "0644"), index),
            owner=_account(entry.get("owner", "root"), index, "owner"),
            group=_account(entry.get("group", "root"), index, "group"),
            validate=check,
        ))
    return specs


def read_state(path: str) -> FileState:
    """Content and attributes of ``path``; a state with None content when it does not exist."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            content = handle.read()
        info = os.stat(path)
    except FileNotFoundError:
        return FileState(content=None)
    except UnicodeDecodeError:
        content = ""  # not text: it differs from any content asked for
        info = os.stat(path)
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return FileState(content=content, mode=stat.S_IMODE(info.st_mode), owner=owner, group=group)


def plan(spec: FileSpec, before: FileState) -> FileChange:
    """What differs between ``spec`` and ``before`` (pure)."""
    if before.content is None:
        return FileChange(spec, before, content_changed=True, attributes=[])
    attributes = []
    if before.mode != spec.mode:
        attributes.append(f"mode {before.mode:04o} -> {spec.mode:04o}" if before.mode is not None else "mode")
    if before.owner != spec.owner:
        attributes.append(f"owner {before.owner} -> {spec.owner}")
    if before.group != spec.group:
        attributes.append(f"group {before.group} -> {spec.group}")
    return FileChange(spec, before, content_changed=before.content != spec.content, attributes=attributes)


def validate_command(check: str, path: str) -> str:
    """The ``validate`` command line with ``%s`` replaced by the file to check."""
    return check.replace("%s", path)
