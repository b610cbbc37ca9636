"""benchmarks/ipvs_service.py: its list floor module takes ipvs_service's own argument spec and constraints.

The benchmarks are not shipped in the collection, so this lives beside the other source-tree checks.
"""

from __future__ import annotations

from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "ipvs_service.py"


def test_the_benchmark_list_floor_takes_the_module_spec() -> None:
    bench = BENCH.read_text(encoding="utf-8")
    assert "AnsibleModule(argument_spec=service_module_spec(), **service_module_constraints())" in bench
