"""Mitogen's linear strategy, found at a fixed path inside the project.

The lab scenarios run Ansible under emulation, where starting a Python
interpreter for every task costs seconds; Mitogen keeps one per host. This
file only re-exports the strategy of the `mitogen` package installed in the
venv (requirements-dev.txt), so the scenarios can name a stable
strategy_plugins directory instead of a path inside site-packages.
"""

from __future__ import annotations

from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]
