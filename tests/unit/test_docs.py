"""The documentation names only variables that exist.

Every word in the READMEs and the DR walk-through that looks like a role or
playbook variable (``director_*``, ``realserver_*``, ``firewall_*``,
``selinux_*``, ``verify_*``, ``status_*``) must be declared: role variables in
a role's ``meta/argument_specs.yml``, playbook variables in a playbook's play
``vars`` or read with ``NAME | default(...)`` (how ``lvs.dr.verify`` takes its
optional inputs).  Plain pytest, no Ansible run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PREFIXES = ("director", "realserver", "dr_common", "verify", "status")
# Not preceded by a word character, a dot, a hyphen or a slash (so not
# `__director_x`, `lvs-dr-director.service`, `tasks/director_x`); the name
# does not continue into a file extension such as `.yml` or `.j2`.
VARIABLE = re.compile(r"(?<![\w./-])((?:" + "|".join(PREFIXES) + r")_[a-z0-9_]*[a-z0-9])(?![\w-]|\.[a-z])")
DEFAULTED = re.compile(r"\b([a-z][a-z0-9_]*)\s*\|\s*default\(")


def doc_files() -> list[Path]:
    docs = [REPO / "README.md", REPO / "docs" / "zh-CN" / "README.md"]
    docs += sorted((REPO / "docs").glob("how-dr-works*.md"))
    docs += sorted((REPO / "docs" / "zh-CN").glob("how-dr-works*.md"))
    return docs


def role_variables() -> set[str]:
    names: set[str] = set()
    for spec in sorted((REPO / "roles").glob("*/meta/argument_specs.yml")):
        data = yaml.safe_load(spec.read_text(encoding="utf-8"))
        for entry in data["argument_specs"].values():
            names.update(entry.get("options", {}))
    return names


def playbook_variables() -> set[str]:
    names: set[str] = set()
    for playbook in sorted((REPO / "playbooks").glob("*.yml")):
        text = playbook.read_text(encoding="utf-8")
        for play in yaml.safe_load(text) or []:
            names.update(name for name in play.get("vars", {}) if not name.startswith("_"))
        names.update(name for name in DEFAULTED.findall(text) if name.startswith(tuple(p + "_" for p in PREFIXES)))
    return names


def known_variables() -> set[str]:
    return role_variables() | playbook_variables()


def mentioned_variables(text: str) -> set[str]:
    return set(VARIABLE.findall(text))


def unknown_variables(text: str, known: set[str]) -> list[str]:
    return sorted(mentioned_variables(text) - known)


def test_the_documents_exist() -> None:
    names = {path.relative_to(REPO).as_posix() for path in doc_files()}
    assert {"README.md", "docs/zh-CN/README.md", "docs/how-dr-works.md", "docs/zh-CN/how-dr-works.md"} <= names


def test_known_variables_cover_roles_and_playbooks() -> None:
    known = known_variables()
    for name in ("director_vip", "realserver_arp_ignore", "dr_common_firewall_backend", "dr_common_selinux_mode",
                 "verify_requests", "verify_report_file", "verify_access_log", "status_connections"):
        assert name in known


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: path.relative_to(REPO).as_posix())
def test_every_variable_named_in_the_docs_exists(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    unknown = unknown_variables(text, known_variables())
    assert unknown == [], f"{path.relative_to(REPO)} names variables no role spec or playbook declares: {unknown}"


def test_a_typo_is_caught() -> None:
    known = known_variables()
    text = "Set `director_vipp` and `realserver_arp_ignroe`; `director_vip` is fine, so is `lvs-dr-director.service`."
    assert unknown_variables(text, known) == ["director_vipp", "realserver_arp_ignroe"]


def test_file_names_and_internal_names_are_not_variables() -> None:
    text = "`__director_rules_file`, `lvs-dr-director.service`, `roles/director_x`, `verify.yml`, `director_vip.`"
    assert mentioned_variables(text) == {"director_vip"}


@pytest.mark.parametrize("path", doc_files(), ids=lambda path: path.relative_to(REPO).as_posix())
def test_relative_links_resolve(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s#]+)(?:#[^)]*)?\)", text):
        if "://" in target:
            continue
        assert (path.parent / target).exists(), f"{path.relative_to(REPO)} links to a missing {target}"


@pytest.mark.parametrize("name", ["how-dr-works.md", "zh-CN/how-dr-works.md"])
def test_the_walk_has_a_mermaid_sequence_diagram(name: str) -> None:
    text = (REPO / "docs" / name).read_text(encoding="utf-8")
    assert re.search(r"^```mermaid\nsequenceDiagram\n", text, re.MULTILINE)
