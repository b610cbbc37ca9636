"""DOCUMENTATION of ipvs_service and ipvs_info against the specs the code builds from ipvs_model."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import yaml
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import (
    SINGLE_SERVICE_OPTIONS,
    service_module_spec,
    service_spec,
)
from ansible_collections.lvs.dr.plugins.modules import ipvs_info, ipvs_service

# what DOCUMENTATION and an argument spec must agree on, per option
COMPARED = ("type", "elements", "choices", "default")


def documented(module: ModuleType) -> dict[str, Any]:
    return yaml.safe_load(module.DOCUMENTATION)["options"]


def differences(docs: dict[str, Any], spec: dict[str, Any], prefix: str = "") -> list[str]:
    """Every option whose name, type, elements, choices or default differ; suboptions too."""
    found = [f"{prefix}{name}: only documented" for name in sorted(set(docs) - set(spec))]
    found += [f"{prefix}{name}: only in the spec" for name in sorted(set(spec) - set(docs))]
    for name in sorted(set(docs) & set(spec)):
        doc, code = docs[name], spec[name]
        found += [
            f"{prefix}{name}.{field}: documented {doc.get(field)!r}, spec {code.get(field)!r}"
            for field in COMPARED
            if doc.get(field) != code.get(field)
        ]
        if "options" in code:  # services entries: validated by ipvs_validate, compared below
            found += differences(doc.get("suboptions", {}), code.get("options", {}), f"{prefix}{name}.")
    return found


@pytest.mark.parametrize("module", [ipvs_service, ipvs_info], ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_documentation_matches_the_argument_spec(module: ModuleType) -> None:
    assert differences(documented(module), module.ARGUMENT_SPEC) == []


def test_services_entries_are_documented_as_the_single_service_options() -> None:
    """The entries of ``services`` are validated by ipvs_validate, not by Ansible: same names and types."""
    entry_docs = documented(ipvs_service)["services"]["suboptions"]
    assert tuple(entry_docs) == SINGLE_SERVICE_OPTIONS
    spec = service_spec()
    types = {name: (doc["type"], doc.get("elements")) for name, doc in entry_docs.items()}
    assert types == {name: (option["type"], option.get("elements")) for name, option in spec.items()}
    real_servers = entry_docs["real_servers"]["suboptions"]
    assert differences(real_servers, spec["real_servers"]["options"]) == []


def test_the_module_spec_is_the_shared_one() -> None:
    """ipvs_service's argument spec is ipvs_model's (which the benchmark's list floor module also takes)."""
    assert service_module_spec() == ipvs_service.ARGUMENT_SPEC
