"""config_files planning: what differs between a file as asked for and as found (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import config_files as cf

SPEC = cf.FileSpec(path="/etc/x.conf", content="new\n", mode=0o644, owner="root", group="root")


@pytest.mark.parametrize(("before", "content_changed", "attributes"), [
    (cf.FileState(content=None), True, []),
    (cf.FileState("new\n", 0o644, "root", "root"), False, []),
    (cf.FileState("old\n", 0o644, "root", "root"), True, []),
    (cf.FileState("new\n", 0o600, "root", "root"), False, ["mode 0600 -> 0644"]),
    (cf.FileState("new\n", 0o644, "daemon", "adm"), False, ["owner daemon -> root", "group adm -> root"]),
    (cf.FileState("old\n", 0o4755, "root", "root"), True, ["mode 4755 -> 0644"]),
])
def test_plan(before: cf.FileState, content_changed: bool, attributes: list[str]) -> None:
    change = cf.plan(SPEC, before)
    assert (change.content_changed, change.attributes) == (content_changed, attributes)
    assert change.changed is (content_changed or bool(attributes))
    assert change.report()["created"] is (before.content is None)


def test_read_state(tmp_path: Path) -> None:
    path = tmp_path / "f"
    assert cf.read_state(str(path)) == cf.FileState(content=None)
    path.write_text("a\r\nb\n")  # kept byte for byte: no newline translation
    path.chmod(0o640)
    state = cf.read_state(str(path))
    assert (state.content, state.mode) == ("a\r\nb\n", 0o640)
    path.write_bytes(b"\xff\xfe")
    assert cf.read_state(str(path)).content == ""  # not text: differs from any content


@pytest.mark.parametrize(("value", "mode"), [("0644", 0o644), ("644", 0o644), ("0600", 0o600), (" 0755 ", 0o755)])
def test_modes(tmp_path: Path, value: str, mode: int) -> None:
    (spec,) = cf.validate_entries([{"path": str(tmp_path / "f"), "content": "", "mode": value}])
    assert spec.mode == mode and (spec.owner, spec.group, spec.validate) == ("root", "root", None)


@pytest.mark.parametrize(("entries", "parameter", "text"), [
    ([], "files", "at least one"),
    ([{"path": "/tmp/a", "content": "x"}] * 65, "files", "at most 64"),
    ([{"path": "/tmp/a", "content": 5}], "files[0].content", "as a string"),
    ([{"path": "/tmp/a", "content": "x" * (1024 * 1024 + 1)}], "files[0].content", "more than"),
    ([{"path": "/tmp/a", "content": "x", "mode": 420}], "files[0].mode", "quoted octal string"),
    ([{"path": "/tmp/a", "content": "x", "mode": "0888"}], "files[0].mode", "is not a file mode"),
    ([{"path": "/tmp", "content": "x"}], "files[0].path", "is a directory"),
])
def test_bad_entries(entries: list[dict], parameter: str, text: str) -> None:
    with pytest.raises(cf.ConfigFilesError) as info:
        cf.validate_entries(entries)
    assert info.value.fields["parameter"] == parameter
    assert text in info.value.msg


def test_validate_command() -> None:
    assert cf.validate_command("/usr/sbin/nft -c -f %s", "/etc/.lvs-dr-x") == "/usr/sbin/nft -c -f /etc/.lvs-dr-x"
