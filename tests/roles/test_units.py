"""Every systemd unit the roles render, for EL 9 and Debian 12, checked by systemd-analyze verify."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ANALYZE = shutil.which("systemd-analyze")
UNITS = ("lvs-dr-director.service", "lvs-dr-realserver.service", "lvs-dr-firewall.service")


def rendered_units(run, tmp_path: Path) -> dict[str, Path]:
    units: dict[str, Path] = {}
    for host in ("director", "rs1"):
        for dest, written in run.files(host).items():
            name = Path(dest).name
            if dest.startswith("/etc/systemd/system/") and name in UNITS:
                units[name] = tmp_path / name
                units[name].write_text(written["content"])
    return units


def test_the_runs_render_the_expected_units(el9, deb, tmp_path) -> None:
    (tmp_path / "el9").mkdir()
    (tmp_path / "deb").mkdir()
    # EL: ipvsadm.service owns the table (no director unit); the firewall unit holds the director's notrack rules.
    assert sorted(rendered_units(el9, tmp_path / "el9")) == ["lvs-dr-firewall.service", "lvs-dr-realserver.service"]
    assert sorted(rendered_units(deb, tmp_path / "deb")) == sorted(UNITS)


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("profile", ["el9", "deb"])
def test_units_pass_systemd_analyze_verify(profile, request, tmp_path) -> None:
    units = rendered_units(request.getfixturevalue(profile), tmp_path)
    executables = {match for unit in units.values()
                   for match in re.findall(r"^Exec\w+=[-@!+:]*(/\S+)", unit.read_text(), re.M)}
    missing = sorted(path for path in executables if not Path(path).exists())
    if missing:
        pytest.skip(f"systemd-analyze verify checks the commands, not installed here: {missing}")
    proc = subprocess.run([ANALYZE, "verify", "--man=no", *map(str, units.values())],
                          capture_output=True, text=True, timeout=60, check=False)
    # verify exits 0 on unknown keys or bad values and only warns: any line about our files is a failure.
    ours = [line for line in (proc.stdout + proc.stderr).splitlines() if any(name in line for name in units)]
    assert proc.returncode == 0 and ours == [], proc.stdout + proc.stderr
