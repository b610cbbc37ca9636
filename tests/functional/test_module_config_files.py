"""config_files on this machine's file system: the real module, real files, real validate commands.

Runs the module file as Ansible would (arguments as JSON) against files in a
temporary directory; owners and groups need root, like the rest of tests/functional.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from module_file import run_module_file

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="owners and groups need root")


def run(files: list[dict[str, Any]], check: bool = False) -> dict[str, Any]:
    return run_module_file("config_files", {"files": files}, check=check)


def attrs(path: Path) -> tuple[str, int, int, int]:
    info = path.stat()
    return path.read_text(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid


def test_create_rerun_check_and_correct(tmp_path: Path) -> None:
    a, b = tmp_path / "a.conf", tmp_path / "b.service"
    files = [{"path": str(a), "content": "one\n"},
             {"path": str(b), "content": "two\n", "mode": "0600", "group": "daemon"}]
    predicted = run(files, check=True)
    assert predicted["changed"] is True and not a.exists() and not b.exists()
    first = run(files)
    assert first["changed"] is True
    assert first["files"] == predicted["files"] == [
        {"path": str(a), "changed": True, "created": True, "content_changed": True, "attributes": []},
        {"path": str(b), "changed": True, "created": True, "content_changed": True, "attributes": []}]
    assert first["diff"] == predicted["diff"] == [
        {"before_header": str(a), "after_header": str(a), "before": "", "after": "one\n"},
        {"before_header": str(b), "after_header": str(b), "before": "", "after": "two\n"}]
    assert attrs(a) == ("one\n", 0o644, 0, 0)
    assert attrs(b)[:3] == ("two\n", 0o600, 0) and b.stat().st_gid == 1  # daemon
    again = run(files)
    assert again["changed"] is False and [f["changed"] for f in again["files"]] == [False, False]
    assert run(files, check=True)["changed"] is False

    os.chmod(a, 0o666)
    b.write_text("drifted\n")
    fixed = run(files)
    assert [(f["content_changed"], f["attributes"]) for f in fixed["files"]] == [
        (False, ["mode 0666 -> 0644"]), (True, [])]
    assert fixed["diff"][1]["before"] == "drifted\n"
    assert attrs(a) == ("one\n", 0o644, 0, 0) and b.read_text() == "two\n" and stat.S_IMODE(b.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.conf", "b.service"]  # no temporary file left


def test_a_failed_validate_changes_no_file(tmp_path: Path) -> None:
    a, b = tmp_path / "a.conf", tmp_path / "b.conf"
    a.write_text("old a\n")
    b.write_text("old b\n")
    files = [{"path": str(a), "content": "new a\n"},
             {"path": str(b), "content": "bad\n", "validate": "/bin/grep -q good %s"}]
    result = run(files)
    assert result["failed"] is True and result["parameter"] == "files[1].validate"
    assert "rejected the new content of " + str(b) in result["msg"] and "no file was changed" in result["msg"]
    assert a.read_text() == "old a\n" and b.read_text() == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.conf", "b.conf"]
    files[1]["content"] = "good\n"
    assert run(files)["changed"] is True
    assert a.read_text() == "new a\n" and b.read_text() == "good\n"


@pytest.mark.parametrize(("entry", "parameter", "message"), [
    ({"path": "relative/x"}, "files[1].path", "'relative/x' is not a normalised absolute path"),
    ({"path": "/tmp/../etc/x"}, "files[1].path", "is not a normalised absolute path"),
    ({"path": "/nonexistent-dir-lvs-dr/x"}, "files[1].path", "directory /nonexistent-dir-lvs-dr does not exist"),
    ({"mode": "644x"}, "files[1].mode", "'644x' is not a file mode"),
    ({"mode": "420"}, "files[1].mode", None),  # 420 octal is a valid mode: no error
    ({"owner": "no-such-user-lvs"}, "files[1].owner", "no user 'no-such-user-lvs' on this host"),
    ({"group": "no-such-group-lvs"}, "files[1].group", "no group 'no-such-group-lvs' on this host"),
    ({"validate": "/bin/true"}, "files[1].validate", "must contain %s"),
])
def test_bad_input_names_the_entry_and_changes_nothing(tmp_path: Path, entry: dict[str, Any], parameter: str,
                                                       message: str | None) -> None:
    first = tmp_path / "first.conf"
    files = [{"path": str(first), "content": "x\n"}, {"path": str(tmp_path / "second.conf"), "content": "y\n", **entry}]
    result = run(files)
    if message is None:
        assert result.get("failed") is not True, result
        return
    assert result["failed"] is True and result["parameter"] == parameter, result
    assert message in result["msg"], result["msg"]
    assert not first.exists()  # validation came before any write


def test_the_same_path_twice_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "x")
    result = run([{"path": path, "content": "a"}, {"path": path, "content": "b"}])
    assert result["failed"] and result["msg"] == f"files[1].path: {path} is also files[0]"


def test_check_mode_allows_a_directory_an_earlier_task_creates(tmp_path: Path) -> None:
    """A fresh host in check mode: the web server's package, which creates the page's directory, is not there yet."""
    page = tmp_path / "www" / "index.html"
    predicted = run([{"path": str(page), "content": "page\n"}], check=True)
    assert predicted["changed"] is True and predicted["files"][0]["created"] is True
    real = run([{"path": str(page), "content": "page\n"}])
    assert real["failed"] and real["parameter"] == "files[0].path" and "does not exist" in real["msg"]
