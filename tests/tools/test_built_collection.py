"""tools/test-built-collection's --install and --resolves (what `make molecule` and the default
scenario's converge use), and its list of what the tarball ships. No engine needed."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "test-built-collection"
SCENARIO = REPO / "extensions" / "molecule" / "default"


def tool():
    loader = importlib.machinery.SourceFileLoader("test_built_collection_tool", str(SCRIPT))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def run(*args: str, collections_path: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(ANSIBLE_COLLECTIONS_PATH=collections_path, ANSIBLE_HOME=str(home),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False,
                          timeout=300, env=env)


def source_link(tmp_path: Path) -> Path:
    """A collections path like the Makefile's .cache/collections: a link to the source tree."""
    link = tmp_path / "source" / "ansible_collections" / "lvs" / "dr"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    return tmp_path / "source"


def test_resolves_fails_for_the_source_tree(tmp_path: Path) -> None:
    source = source_link(tmp_path)
    proc = run("--resolves", str(source), collections_path=str(source), home=tmp_path / "home")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(r"FAIL  \S+/lvs/dr is a directory, not a link", proc.stdout)
    assert "FAIL  it holds an installed artifact" in proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("built") / "installed"
    proc = run("--install", str(where), collections_path=str(where), home=where.parent / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return where


def test_install_gives_an_installed_copy_that_resolves(installed: Path, tmp_path: Path) -> None:
    root = installed / "ansible_collections" / "lvs" / "dr"
    assert (root / "MANIFEST.json").is_file() and not root.is_symlink()
    proc = run("--resolves", str(installed), collections_path=str(installed), home=tmp_path / "home")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"lvs.dr.director is loaded from {root}" in proc.stdout


def test_resolves_fails_when_the_source_tree_comes_first(installed: Path, tmp_path: Path) -> None:
    both = f"{source_link(tmp_path)}{os.pathsep}{installed}"
    proc = run("--resolves", str(installed), collections_path=both, home=tmp_path / "home")
    assert proc.returncode == 1
    assert re.search(r"FAIL  lvs.dr.ipvs_service is loaded from \S+/source/", proc.stdout)


def test_install_refuses_a_directory_with_other_content(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    proc = run("--install", str(tmp_path / "mine"), collections_path=str(tmp_path / "mine"), home=tmp_path / "home")
    assert proc.returncode == 2 and (tmp_path / "mine" / "notes.txt").exists()


def test_tarball_list_rejects_development_tests_and_wants_ansible_test_layout() -> None:
    checks = tool().tarball_checks
    good = [*sorted(tool().REQUIRED), "tests/config.yml", "tests/integration", "changelogs", "docs",
            "inventories", "meta", "tests", "tests/unit/test_x.py"]
    assert all(check[0] for check in checks(good)), [what for ok, what in checks(good) if not ok]
    for extra in ("tests/tools/test_lab.py", "tests/roles/roles_harness.py", "tests/functional/conftest.py",
                  "tools/lab", "extensions/molecule/default/converge.yml", "Makefile", "benchmarks/README.md"):
        assert not all(check[0] for check in checks([*good, extra])), extra
    without_units = [name for name in good if not name.startswith("tests/unit")]
    assert not all(check[0] for check in checks(without_units))


def test_make_molecule_converges_the_default_scenario_from_the_install() -> None:
    makefile = (REPO / "Makefile").read_text()
    installed = re.search(r"^INSTALLED := \$\(CURDIR\)/(\S+)$", makefile, re.M)
    assert installed and installed.group(1) == ".cache/installed"
    recipe = re.search(r"^molecule:.*\n((?:\t.*\n)+)", makefile, re.M).group(1)
    assert "tools/test-built-collection --install $(INSTALLED)" in recipe
    assert "LVS_DR_DEFAULT_COLLECTIONS=installed tools/labhost exec -- tools/molecule-scenarios" in recipe
    config = yaml.safe_load((SCENARIO / "molecule.yml").read_text())
    path = config["provisioner"]["env"]["ANSIBLE_COLLECTIONS_PATH"]
    assert path == "${MOLECULE_PROJECT_DIRECTORY}/.cache/${LVS_DR_DEFAULT_COLLECTIONS:-collections}"
    assert config["provisioner"]["playbooks"]["converge"] == "converge.yml"
    converge = yaml.safe_load((SCENARIO / "converge.yml").read_text())
    assert converge[-1]["ansible.builtin.import_playbook"] == "lvs.dr.site"
    assert "--resolves" in converge[0]["tasks"][0]["ansible.builtin.command"]["argv"]
    # No playbook of the scenario reaches into the source tree's playbooks or roles by path.
    for playbook in SCENARIO.glob("*.yml"):
        text = playbook.read_text()
        assert not re.search(r"\.\./\.\./\.\./(site\.yml|playbooks|roles|plugins)", text), playbook.name
        assert "MOLECULE_PROJECT_DIRECTORY') }}/site.yml" not in text, playbook.name
