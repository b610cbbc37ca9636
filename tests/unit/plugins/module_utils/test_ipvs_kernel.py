"""ipvs_kernel: IPVS presence and scheduler availability on fake /proc, /sys and /lib/modules trees."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pytest
from ansible_collections.lvs.dr.plugins.module_utils import ipvs_kernel as ik

RELEASE = "6.1.0-18-amd64"
IPVS_DIR = "kernel/net/netfilter/ipvs"
# Debian 12's kernel: ip_vs and every scheduler but twos as modules
DEBIAN12 = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh")


def modules_dep(names: tuple[str, ...], suffix: str = ".ko") -> str:
    """A modules.dep in the kernel's format: ``path: dependencies``."""
    lines = [f"kernel/net/netfilter/nf_conntrack.ko{suffix[3:]}: kernel/lib/libcrc32c.ko{suffix[3:]}",
             f"{IPVS_DIR}/ip_vs.ko{suffix[3:]}: kernel/net/netfilter/nf_conntrack.ko{suffix[3:]}"]
    lines += [f"{IPVS_DIR}/ip_vs_{name}.ko{suffix[3:]}: {IPVS_DIR}/ip_vs.ko{suffix[3:]}" for name in names]
    return "\n".join(lines) + "\n"


def make_tree(
    tmp_path: Path,
    *,
    proc_ip_vs: Optional[str] = "IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler\n",
    loaded: tuple[str, ...] = (),
    dep: Optional[str] = None,
    builtin: Optional[str] = "kernel/net/ipv4/tcp_cubic.ko\n",
    release: str = RELEASE,
) -> dict[str, str]:
    proc, sys_root, modules = tmp_path / "proc", tmp_path / "sys", tmp_path / "lib" / "modules"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "sys" / "kernel" / "osrelease").write_text(release + "\n")
    (proc / "net").mkdir()
    if proc_ip_vs is not None:
        (proc / "net" / "ip_vs").write_text(proc_ip_vs)
    (sys_root / "module").mkdir(parents=True)
    for module in loaded:
        (sys_root / "module" / module).mkdir()
    if dep is not None or builtin is not None:
        (modules / release).mkdir(parents=True)
    if dep is not None:
        (modules / release / "modules.dep").write_text(dep)
    if builtin is not None and dep is not None:
        (modules / release / "modules.builtin").write_text(builtin)
    return {"proc_root": str(proc), "sys_root": str(sys_root), "modules_root": str(modules)}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"{IPVS_DIR}/ip_vs_rr.ko", "ip_vs_rr"),
        (f"{IPVS_DIR}/ip_vs_rr.ko.xz", "ip_vs_rr"),
        (f"{IPVS_DIR}/ip_vs_wlc.ko.zst", "ip_vs_wlc"),
        (f"{IPVS_DIR}/ip_vs_mh.ko.gz", "ip_vs_mh"),
        ("extra/ip-vs-custom.ko", "ip_vs_custom"),
        ("ip_vs_sh.ko", "ip_vs_sh"),
        (f"{IPVS_DIR}/ip_vs_rr.o", None),
        ("", None),
    ],
)
def test_module_name(path: str, expected: Optional[str]) -> None:
    assert ik.module_name(path) == expected


@pytest.mark.parametrize("suffix", [".ko", ".ko.xz", ".ko.zst", ".ko.gz"])
def test_parse_modules_dep_any_compression(suffix: str) -> None:
    names = ik.parse_modules_dep(modules_dep(("rr", "mh"), suffix))
    assert names == {"nf_conntrack", "ip_vs", "ip_vs_rr", "ip_vs_mh"}


def test_parse_modules_dep_ignores_dependency_columns_and_junk() -> None:
    # ip_vs appears only as a dependency: it is not a module of this index
    text = f"{IPVS_DIR}/ip_vs_rr.ko: {IPVS_DIR}/ip_vs.ko\n\n# comment\nnot a line\n"
    assert ik.parse_modules_dep(text) == {"ip_vs_rr"}


def test_parse_modules_builtin() -> None:
    assert ik.parse_modules_builtin(f"kernel/net/ipv4/tcp_cubic.ko\n{IPVS_DIR}/ip_vs_rr.ko\n\n") == {
        "tcp_cubic", "ip_vs_rr"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n", ("1.2.1", 4096)),
        ("IP Virtual Server version 1.2.1 (size=1048576)\n", ("1.2.1", 1048576)),
        ("something else\nIP Virtual Server version 1.2.1 (size=4096)\n", (None, None)),
        ("", (None, None)),
    ],
)
def test_parse_proc_ip_vs(text: str, expected: tuple) -> None:
    assert ik.parse_proc_ip_vs(text) == expected


def test_debian12_director_after_a_service_used_rr(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, loaded=("ip_vs", "ip_vs_rr", "nf_conntrack"), dep=modules_dep(DEBIAN12, ".ko"))
    info = ik.read_kernel_info(**tree).to_dict()
    assert info == {
        "release": RELEASE,
        "ipvs_present": True,
        "ipvs_available": True,
        "ipvs_version": "1.2.1",
        "ipvs_table_size": 4096,
        "modules_index": True,
        "schedulers": {
            "available": list(DEBIAN12),
            "loaded": ["rr"],
            "loadable": [name for name in DEBIAN12 if name != "rr"],
            "missing": ["twos"],
            "unknown": [],
        },
    }


def test_fresh_host_ipvs_loadable_not_loaded(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, proc_ip_vs=None, dep=modules_dep(("rr", "wlc", "twos"), ".ko.zst"))
    info = ik.read_kernel_info(**tree)
    assert (info.ipvs_present, info.ipvs_available, info.ipvs_version, info.ipvs_table_size) == (
        False, True, None, None)
    assert info.schedulers["available"] == ["rr", "wlc", "twos"]
    assert info.schedulers["loaded"] == []
    assert "fo" in info.schedulers["missing"]


def test_kernel_without_ipvs(tmp_path: Path) -> None:
    dep = "kernel/net/netfilter/nf_conntrack.ko.xz:\n"
    info = ik.read_kernel_info(**make_tree(tmp_path, proc_ip_vs=None, dep=dep))
    assert info.ipvs_present is False and info.ipvs_available is False
    assert info.schedulers["available"] == [] and info.schedulers["missing"] == list(ik.SCHEDULERS)


def test_builtin_ipvs_and_schedulers(tmp_path: Path) -> None:
    builtin = f"{IPVS_DIR}/ip_vs.ko\n{IPVS_DIR}/ip_vs_rr.ko\n{IPVS_DIR}/ip_vs_wrr.ko\n"
    tree = make_tree(tmp_path, dep=modules_dep(("sh",)), builtin=builtin)
    schedulers = ik.read_kernel_info(**tree).schedulers
    assert schedulers["loaded"] == ["rr", "wrr"] and schedulers["loadable"] == ["sh"]
    assert schedulers["available"] == ["rr", "wrr", "sh"]


def test_container_without_lib_modules(tmp_path: Path) -> None:
    """The host's /sys/module is visible, its /lib/modules is not: only the loaded schedulers are known."""
    tree = make_tree(tmp_path, loaded=("ip_vs", "ip_vs_rr", "ip_vs_wlc"), dep=None, builtin=None)
    info = ik.read_kernel_info(**tree)
    assert info.modules_index is False and info.ipvs_present is True and info.ipvs_available is True
    assert info.schedulers["available"] == ["rr", "wlc"] == info.schedulers["loaded"]
    assert info.schedulers["missing"] == []
    assert info.schedulers["unknown"] == [s for s in ik.SCHEDULERS if s not in ("rr", "wlc")]


def test_container_without_ipvs_is_unknown_not_false(tmp_path: Path) -> None:
    info = ik.read_kernel_info(**make_tree(tmp_path, proc_ip_vs=None, dep=None, builtin=None))
    assert info.ipvs_present is False and info.ipvs_available is None
    assert info.schedulers["unknown"] == list(ik.SCHEDULERS)


def test_modules_dep_without_modules_builtin_is_unknown(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, dep=modules_dep(("rr",)), builtin=None)
    assert (Path(tree["modules_root"]) / RELEASE / "modules.dep").exists()
    info = ik.read_kernel_info(**tree)
    assert info.modules_index is False and info.schedulers["missing"] == []


def test_index_of_another_release_is_not_used(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, proc_ip_vs=None, dep=modules_dep(DEBIAN12), release="6.1.0-17-amd64")
    info = ik.read_kernel_info(release=RELEASE, **tree)
    assert info.release == RELEASE and info.modules_index is False and info.ipvs_available is None


def test_release_read_from_proc(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, release="5.14.0-362.el9.x86_64", dep=modules_dep(("rr",), ".ko.xz"))
    info = ik.read_kernel_info(**tree)
    assert info.release == "5.14.0-362.el9.x86_64" and info.schedulers["loadable"] == ["rr"]


def test_sys_module_dash_names_are_normalised(tmp_path: Path) -> None:
    tree = make_tree(tmp_path, loaded=("ip_vs_sh",), dep=None, builtin=None)
    (Path(tree["sys_root"]) / "module" / "ip-vs-mh").mkdir()  # not how the kernel names it, but equivalent
    assert ik.read_kernel_info(**tree).schedulers["loaded"] == ["sh", "mh"]


def test_real_host_reads_without_error() -> None:
    """On the machine running the tests: whatever it has, the reader returns a consistent partition."""
    info = ik.read_kernel_info().to_dict()
    states = info["schedulers"]
    assert sorted(states["loaded"] + states["loadable"] + states["missing"] + states["unknown"]) == sorted(
        ik.SCHEDULERS)
    assert states["available"] == [s for s in ik.SCHEDULERS if s in states["loaded"] + states["loadable"]]
