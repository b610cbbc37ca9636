"""Debian's stock kernel for the guest: unpacked, its uncompressed vmlinux, a small initrd."""

from __future__ import annotations

import lzma
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .common import LAB, LabError, digest, log, run

# Modules the initrd needs to reach the root disk (dependencies are added
# from modules.dep; ext4 asks the crypto API for crc32c, which modules.dep
# does not record).
INITRD_MODULES = ("virtio_pci", "virtio_blk", "virtio_net", "crc32c_generic", "crc32c_intel", "ext4")


@dataclass(frozen=True)
class Kernel:
    """A cached kernel: its directory (named after its inputs) and what the guest boots from it."""

    dir: Path
    vmlinux: Path
    initrd: Path
    modules: Path  # lib/modules/<release> of the unpacked package
    release: str


def kernel_package() -> tuple[str, str]:
    out = run(["apt-cache", "depends", "linux-image-amd64"], capture=True).stdout
    m = re.search(r"Depends:\s+(linux-image-\S+-amd64)", out)
    if not m:
        raise LabError("cannot find Debian's kernel package: 'apt-cache depends linux-image-amd64' names none "
                       "(run 'apt-get update')")
    name = m.group(1)
    policy = run(["apt-cache", "policy", name], capture=True).stdout
    v = re.search(r"Candidate:\s+(\S+)", policy)
    if not v or v.group(1) == "(none)":
        raise LabError(f"kernel package {name} has no installable candidate")
    return name, v.group(1)


def extract_vmlinux(vmlinuz: Path, out: Path) -> bool:
    """Unpack the xz payload of a bzImage: booting the ELF skips the slow decompressor under TCG."""
    data = vmlinuz.read_bytes()
    start = data.find(b"\xfd7zXZ\x00")
    while start != -1:
        try:
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data[start:])
        except lzma.LZMAError:
            elf = b""
        if elf[:4] == b"\x7fELF":
            out.write_bytes(elf)
            return True
        start = data.find(b"\xfd7zXZ\x00", start + 1)
    return False


def module_closure(moddir: Path, wanted: tuple[str, ...]) -> list[str]:
    """Module files for `wanted` and their dependencies, in load order."""
    deps: dict[str, list[str]] = {}
    by_name: dict[str, str] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        target, _, rest = line.partition(":")
        deps[target] = rest.split()
        base = os.path.basename(target).split(".ko")[0].replace("-", "_")
        by_name[base] = target
    order: list[str] = []

    def visit(path: str) -> None:
        for dep in deps.get(path, []):
            visit(dep)
        if path not in order:
            order.append(path)

    for name in wanted:
        if name in by_name:
            visit(by_name[name])
    return order


def build_kernel(cache: Path) -> Kernel:
    name, version = kernel_package()
    kdir = cache / f"kernel-{digest(name, version, LAB / 'initrd-init.sh')}"
    done = kdir / ".complete"
    if not done.exists():
        log(f"kernel: fetching {name} {version} from Debian's archive")
        shutil.rmtree(kdir, ignore_errors=True)
        kdir.mkdir(parents=True)
        run(["apt-get", "download", f"{name}={version}"], cwd=kdir, capture=True)
        deb = next(kdir.glob("*.deb"))
        tree = kdir / "tree"
        run(["dpkg-deb", "-x", str(deb), str(tree)])
        deb.unlink()
        vmlinuz = next((tree / "boot").glob("vmlinuz-*"))
        kver = vmlinuz.name.removeprefix("vmlinuz-")
        if not extract_vmlinux(vmlinuz, kdir / "vmlinux"):
            shutil.copy(vmlinuz, kdir / "vmlinux")
        (kdir / "release").write_text(kver)
        run(["depmod", "-b", str(tree), kver])
        build_initrd(tree / "lib" / "modules" / kver, kdir / "initrd.cpio")
        done.write_text(version)
    kver = (kdir / "release").read_text().strip()
    return Kernel(dir=kdir, vmlinux=kdir / "vmlinux", initrd=kdir / "initrd.cpio",
                  modules=kdir / "tree" / "lib" / "modules" / kver, release=kver)


def build_initrd(moddir: Path, out: Path) -> None:
    busybox = shutil.which("busybox")
    if not busybox or "statically linked" not in run(["file", "-L", busybox], capture=True, check=False).stdout:
        busybox = "/bin/busybox" if Path("/bin/busybox").exists() else busybox
    if not busybox:
        raise LabError("busybox not found: apt-get install -y busybox-static")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "bin").mkdir()
        (root / "modules").mkdir()
        shutil.copy(busybox, root / "bin" / "busybox")
        shutil.copy(LAB / "initrd-init.sh", root / "init")
        os.chmod(root / "init", 0o755)
        order = []
        for rel in module_closure(moddir, INITRD_MODULES):
            src = moddir / rel
            base = os.path.basename(rel).split(".ko")[0] + ".ko"
            raw = src.read_bytes()
            if rel.endswith(".xz"):
                raw = lzma.decompress(raw)
            (root / "modules" / base).write_bytes(raw)
            order.append(base)
        (root / "modules" / "load.order").write_text("\n".join(order) + "\n")
        files = run(["find", "."], cwd=root, capture=True).stdout
        with open(out, "wb") as fh:
            subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=files.encode(), cwd=root,
                           stdout=fh, check=True)
