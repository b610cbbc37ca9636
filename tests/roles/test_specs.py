"""meta/argument_specs.yml is the one reference of each role's variables: defaults/main.yml must agree with it.

A required variable has no default (or the role's argument check could never
fire), and every default in defaults/main.yml is the spec's default, word for
word, so ``ansible-doc -t role`` shows what the role really does. One
exception: a list of typed elements (``elements: int``, ``dict``) whose default
is a Jinja template has it in defaults/main.yml only, and its spec's
description says what it is; antsibull-docs, which renders and lints
collection docs, cannot convert such a template into the element type and
drops the role's documentation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
PUBLIC = sorted(path.name for path in ROLES.iterdir() if (path / "meta" / "argument_specs.yml").exists())


def _spec(role: str) -> dict[str, Any]:
    """The options of every entry point (``main`` for the public roles; ``firewall`` and ``selinux`` of dr_common)."""
    specs = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options: dict[str, Any] = {}
    for entry in specs.values():
        options.update(entry.get("options") or {})
    return options


def test_internal_role_variables_are_prefixed() -> None:
    """dr_common's variables cannot collide with another collection's firewall_* or selinux_* variables."""
    for name in list(_spec("dr_common")) + list(_defaults("dr_common")):
        assert name.startswith("dr_common_"), name


def _defaults(role: str) -> dict[str, Any]:
    return yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text()) or {}


def test_every_role_has_a_spec() -> None:
    assert set(PUBLIC) == {path.name for path in ROLES.iterdir() if path.is_dir()}


@pytest.mark.parametrize("role", PUBLIC)
def test_required_variables_have_no_default(role: str) -> None:
    required = {name for name, option in _spec(role).items() if option.get("required")}
    defaulted = sorted(required & set(_defaults(role)))
    assert not defaulted, f"{role}: required but defaulted: {defaulted}"


@pytest.mark.parametrize("role", PUBLIC)
def test_defaults_are_the_spec_defaults(role: str) -> None:
    spec, defaults = _spec(role), _defaults(role)
    assert set(defaults) <= set(spec), f"{role}: undeclared {sorted(set(defaults) - set(spec))}"
    templated = {name for name, value in defaults.items() if _templated_typed_list(spec[name], value)}
    with_default = {name for name, option in spec.items() if "default" in option}
    assert with_default == set(defaults) - templated, (
        f"{role}: default only in the spec {sorted(with_default - set(defaults))}, "
        f"only in defaults/main.yml {sorted(set(defaults) - templated - with_default)}, "
        f"templated typed lists with a spec default {sorted(with_default & templated)}")
    drift = {name: (spec[name]["default"], value) for name, value in defaults.items()
             if name not in templated and spec[name]["default"] != value}
    assert drift == {}, f"{role}: spec default != defaults/main.yml: {drift}"
    undescribed = sorted(name for name in templated if "The default is" not in str(spec[name].get("description")))
    assert not undescribed, f"{role}: the description of {undescribed} does not say what the default is"


def _templated_typed_list(option: dict[str, Any], value: Any) -> bool:
    return (option.get("type") == "list" and option.get("elements") not in (None, "str", "path", "raw")
            and isinstance(value, str) and "{{" in value)
