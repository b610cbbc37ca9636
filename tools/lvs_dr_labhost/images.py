"""Root file systems from Debian's packages: the guest disk and the lab node image tarballs."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from .common import LAB, LabError, digest, log, run
from .hosttools import require_root
from .kernel import Kernel

GUEST_SUITE = "bookworm"
GUEST_PACKAGES = (
    "systemd,systemd-sysv,udev,dbus,iproute2,kmod,docker.io,containerd,runc,iptables,"
    "ipvsadm,ca-certificates,procps,util-linux"
)
NODE_PACKAGES = "systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,iputils-ping,procps,ca-certificates,gnupg"
# What the roles install on Debian (apache2, nftables, ipvsadm), installed into
# the node image by node-setup.sh, disabled (see there for why).
NODE_PREINSTALLED = "apache2 nftables ipvsadm"
# Kernel module trees the guest never needs: left out to keep the disk small.
MODULE_TREES_SKIPPED = (
    "kernel/drivers/gpu", "kernel/drivers/media", "kernel/drivers/net/wireless",
    "kernel/drivers/infiniband", "kernel/drivers/staging", "kernel/sound",
    "kernel/drivers/bluetooth", "kernel/drivers/scsi", "kernel/drivers/usb",
    "kernel/drivers/iio", "kernel/drivers/input", "kernel/drivers/hid",
    "kernel/drivers/isdn", "kernel/drivers/mtd", "kernel/drivers/net/ethernet",
    "kernel/net/bluetooth", "kernel/net/mac80211", "kernel/net/wireless",
    "kernel/drivers/md", "kernel/fs/nls", "kernel/drivers/hwmon",
)


def debootstrap(target: Path, suite: str, packages: str, mirror: str, debs: Path) -> None:
    """debootstrap into `target`, keeping downloaded .debs in `debs`.

    Each build passes a `debs` directory of its own: two debootstraps of the
    same suite side by side in one --cache-dir download and validate the same
    files at once and fail (seen on a cold cache: guest disk and node image).
    """
    debs.mkdir(parents=True, exist_ok=True)
    argv = ["debootstrap", "--variant=minbase", f"--include={packages}", f"--cache-dir={debs}",
            suite, str(target), mirror]
    proc = run(argv, capture=True, check=False)
    if proc.returncode != 0:
        saved = debs.parent / f"{debs.name}-debootstrap.log"
        raise LabError(f"debootstrap {suite} failed ({proc.returncode}):\n"
                       + debootstrap_failure(proc.stdout + proc.stderr, target / "debootstrap" / "debootstrap.log",
                                             saved))


def debootstrap_failure(output: str, logfile: Path, saved: Path) -> str:
    """The lines that say why debootstrap failed: its E:/W: lines and the log's,
    not the last progress lines; the whole log is kept at `saved`."""
    log_text = ""
    with contextlib.suppress(OSError):
        log_text = logfile.read_text(errors="replace")
        saved.write_text(log_text)
    causes: list[str] = []
    for raw in output.splitlines() + log_text.splitlines():
        line = raw.rstrip()
        if re.match(r"(E|W):\s", line) and line not in causes:
            causes.append(line)
    if not causes:
        causes = [line for line in output.strip().splitlines() if not line.startswith("I: ")][-15:] \
            or output.strip().splitlines()[-15:]
    if log_text:
        tail_lines = [line for line in log_text.strip().splitlines() if line.strip()][-10:]
        causes += ["last lines of debootstrap.log:", *("  " + line for line in tail_lines),
                   f"whole log: {saved}"]
    return "\n".join(causes)


def chroot_script(root: Path, script: Path, *args: str) -> None:
    shutil.copy(script, root / "tmp" / script.name)
    try:
        run(["chroot", str(root), "/bin/sh", f"/tmp/{script.name}", *args], capture=True,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
    finally:
        (root / "tmp" / script.name).unlink(missing_ok=True)


def node_key(suite: str, mirror: str) -> str:
    return digest("node", suite, mirror, NODE_PACKAGES, NODE_PREINSTALLED, LAB / "node-setup.sh")


@contextlib.contextmanager
def debootstrapped(cache: Path, out: Path, suite: str, packages: str, *, mirror: str, debs: str,
                   what: str, how: str) -> Iterator[tuple[Path, Path]]:
    """A fresh root file system for `out` (root, and the .part file to write): renamed to `out` on success."""
    require_root(f"building the lab {what}")
    t0 = time.monotonic()
    log(f"{what}: debootstrap {suite} {how} -> {out.name}")
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        root = Path(tmp) / "root"
        debootstrap(root, suite, packages, mirror, cache / "debs" / debs)
        part = out.with_suffix(".part")
        yield root, part
        part.rename(out)
    log(f"{what}: built in {time.monotonic() - t0:.0f}s")


def build_node_rootfs(cache: Path, suite: str, mirror: str) -> Path:
    """A tarball of the lab node's root file system (docker import input)."""
    out = cache / f"node-{suite}-{node_key(suite, mirror)}.tar"
    if out.exists():
        return out
    with debootstrapped(cache, out, suite, NODE_PACKAGES, mirror=mirror, debs=f"node-{suite}",
                        what="node image", how="(systemd, python3)") as (root, part):
        chroot_script(root, LAB / "node-setup.sh", suite, mirror, NODE_PREINSTALLED)
        run(["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(part), "."])
    return out


def guest_key(kernel: Kernel, mirror: str, tls: Path) -> str:
    return digest("guest", kernel.dir.name, GUEST_SUITE, mirror, GUEST_PACKAGES, LAB / "guest-setup.sh",
                  tls / "server-cert.pem", " ".join(MODULE_TREES_SKIPPED))


def build_guest_disk(cache: Path, kernel: Kernel, mirror: str, tls: Path) -> Path:
    out = cache / f"guest-{guest_key(kernel, mirror, tls)}.raw"
    if out.exists():
        return out
    with debootstrapped(cache, out, GUEST_SUITE, GUEST_PACKAGES, mirror=mirror, debs=f"guest-{GUEST_SUITE}",
                        what="guest", how="with dockerd") as (root, part):
        moddir = kernel.modules
        dest = root / "lib" / "modules" / moddir.name
        shutil.copytree(moddir, dest, symlinks=True,
                        ignore=lambda d, names: [n for n in names
                                                 if str(Path(d, n).relative_to(moddir)) in MODULE_TREES_SKIPPED])
        run(["depmod", "-b", str(root), moddir.name])
        tlsdir = root / "etc" / "docker" / "tls"
        tlsdir.mkdir(parents=True, exist_ok=True)
        for name in ("ca.pem", "server-cert.pem", "server-key.pem"):
            shutil.copy(tls / name, tlsdir / name)
        chroot_script(root, LAB / "guest-setup.sh")
        run(["mkfs.ext4", "-q", "-F", "-L", "lvsdr-guest", "-d", str(root), str(part),
             os.environ.get("LVS_DR_GUEST_DISK", "16G")], capture=True)
    return out
