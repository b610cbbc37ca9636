"""Facts ipvs_model holds for the whole collection, including copies YAML cannot import."""

from __future__ import annotations

from pathlib import Path

import yaml
from ansible_collections.lvs.dr.plugins.module_utils.ipvs_model import SCHEDULERS

ROLES = Path(__file__).resolve().parents[4] / "roles"


def test_director_role_scheduler_choices_are_the_model_schedulers() -> None:
    """The director's argument_specs.yml cannot import Python: its scheduler list is held to the model here."""
    specs = yaml.safe_load((ROLES / "director" / "meta" / "argument_specs.yml").read_text())
    option = specs["argument_specs"]["main"]["options"]["director_scheduler"]
    assert tuple(option["choices"]) == SCHEDULERS
