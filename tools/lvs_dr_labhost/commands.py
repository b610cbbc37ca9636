"""Find or make a Docker engine whose kernel has IPVS, for the lvs.dr lab.

    tools/labhost up       find or start one; print shell exports to reach it
    tools/labhost cache    build (or find) everything `up` needs, start nothing
    tools/labhost env      print the exports of the running one
    tools/labhost status   say what is running and where the cache is
    tools/labhost down     stop the guest this tool started (if any)
    tools/labhost images   build the lab node image(s) only
    tools/labhost exec -- COMMAND [ARG...]
                           run COMMAND against it (its exports set); a guest
                           this started is stopped when COMMAND ends, success
                           or failure (LVS_DR_KEEP_LABHOST=1 keeps it)

Two paths:

* local: the Docker engine already reachable (DOCKER_HOST or the default
  socket) runs privileged containers whose kernel has IPVS (a normal Linux
  host, Docker Desktop). It is used as it is; only the lab node image is
  imported into it.
* qemu: otherwise a throwaway QEMU guest (software emulation) boots Debian's
  stock kernel with ip_vs loaded and dockerd, whose API is published on
  127.0.0.1 only and guarded by mutual TLS with keys generated for the user
  who built the cache.

Everything comes from Debian's packages. Built artefacts live in the cache
(LVS_DR_CACHE, default ~/.cache/lvs-dr) under names derived from their
inputs, so a second start only boots the guest.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import NamedTuple, Optional

from .common import LabError, cache_dir, log, node_image_tag, run, run_dir, suites
from .engine import docker_env, docker_ping, engine_has_ipvs, import_node_images, local_engine_env
from .hosttools import debian_mirror, need_tools
from .images import build_guest_disk, build_node_rootfs
from .kernel import Kernel, build_kernel
from .qemu import Guest, free_port, provisioned_disk, start_qemu, wait_ready
from .tls import ensure_tls


def prune(cache: Path, keep: set[Path]) -> None:
    """Drop artefacts of earlier inputs; the cache holds only what the current inputs need."""
    for pattern in ("kernel-*", "guest-*.raw", "guest-*-images-*.qcow2", "node-*.tar", "*.part"):
        for path in cache.glob(pattern):
            if path in keep or (path.suffix == ".tar" and path.stem.split("-")[1] not in suites()):
                continue
            log(f"cache: removing stale {path.name}")
            if path.is_dir() and not path.is_symlink():  # a link into another cache: only the link goes
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


DOCKER_KEYS = ("DOCKER_HOST", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH")


def print_env(env: dict[str, str], kind: str, started: bool) -> None:
    for key in DOCKER_KEYS:
        if key in env:
            print(f"export {key}={env[key]}")
        else:
            print(f"unset {key}")
    for key in ("DOCKER_TIMEOUT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if key in env:
            print(f"export {key}={env[key]}")
    print(f"export LVS_DR_LABHOST={kind}")
    print(f"export LVS_DR_LABHOST_STARTED={1 if started else 0}")


def running_guest() -> Optional[Guest]:
    guest = Guest.load()
    if guest and guest.alive() and docker_ping(guest.port, guest.tls):
        return guest
    return None


def build_images(cache: Path, mirror: str) -> dict[str, Path]:
    """The node image of every suite, built side by side (each debootstrap has its own .deb cache)."""
    names = suites()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = {suite: pool.submit(build_node_rootfs, cache, suite, mirror) for suite in names}
        return {suite: future.result() for suite, future in futures.items()}


def build_guest_and_images(cache: Path, kernel: Kernel, mirror: str,
                           tls: Path) -> tuple[Path, dict[str, Path]]:
    """The guest disk and the node images, built side by side (each with caches of its own)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        f_guest = pool.submit(build_guest_disk, cache, kernel, mirror, tls)
        f_nodes = pool.submit(build_images, cache, mirror)
        return f_guest.result(), f_nodes.result()


QEMU_TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils", "debootstrap": "debootstrap",
              "cpio": "cpio", "mkfs.ext4": "e2fsprogs", "busybox": "busybox-static",
              "docker": "docker.io", "apt-get": "apt", "file": "file", "depmod": "kmod"}


def local_engine_with_ipvs(cache: Path) -> Optional[dict[str, str]]:
    """The reachable Docker engine, with the node images imported, if its kernel has IPVS."""
    local = local_engine_env()
    if local is None:
        if os.environ.get("LVS_DR_LABHOST") == "local":
            raise LabError("LVS_DR_LABHOST=local but no Docker engine answers ('docker version' fails)")
        return None
    tarballs = build_images(cache, debian_mirror())
    import_node_images(local, tarballs)
    if engine_has_ipvs(local, next(iter(tarballs))):
        return local
    log("the local Docker engine's kernel has no IPVS; using a QEMU guest instead")
    return None


def qemu_artefacts(cache: Path) -> tuple[Kernel, Path, Path]:
    """Kernel, guest disk with the node images, TLS keys: built once, then taken from the cache."""
    need_tools(QEMU_TOOLS)
    mirror = debian_mirror()
    tls = ensure_tls(cache)
    kernel = build_kernel(cache)
    base, tarballs = build_guest_and_images(cache, kernel, mirror, tls)
    layer = provisioned_disk(cache, base, kernel, tls, tarballs)
    prune(cache, keep={kernel.dir, base, layer, *tarballs.values()})
    return kernel, layer, tls


def cmd_cache(args: argparse.Namespace) -> int:
    """Build (or find) everything `up` needs, without starting a guest."""
    t0 = time.monotonic()
    cache = cache_dir()
    if running_guest():
        log("a lab guest is running; its artefacts are cached")
    elif local_engine_with_ipvs(cache) is not None:
        log("path: local Docker engine (its kernel has IPVS); node images imported")
    else:
        log(f"path: QEMU guest with Debian's stock kernel (software emulation); cache: {cache}")
        qemu_artefacts(cache)
    log(f"cache ready in {time.monotonic() - t0:.0f}s")
    return 0


class LabHost(NamedTuple):
    """A Docker engine for the lab: its client environment (DOCKER_HOST ...), its kind, whether this call started it.

    The environment stays a plain dict: it is what subprocesses get and what print_env prints."""

    env: dict[str, str]
    kind: str  # "qemu" or "local"
    started: bool


def bring_up() -> LabHost:
    """Find or start the lab host: its Docker environment, its kind (qemu, local), whether this call started it."""
    t0 = time.monotonic()
    cache = cache_dir()
    guest = running_guest()
    if guest:
        log(f"reusing the running lab guest (pid {guest.pid}, Docker API on 127.0.0.1:{guest.port})")
        return LabHost(docker_env(guest.port, guest.tls), "qemu", False)
    local = local_engine_with_ipvs(cache)
    if local is not None:
        log("path: local Docker engine (its kernel has IPVS)")
        return LabHost(local, "local", False)
    log(f"path: QEMU guest with Debian's stock kernel (software emulation); cache: {cache}")
    kernel, layer, tls = qemu_artefacts(cache)
    state = run_dir()
    overlay = state / "overlay.qcow2"
    overlay.unlink(missing_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(layer), str(overlay)], capture=True)
    port = free_port(int(os.environ.get("LVS_DR_LAB_PORT", "23760")))
    t_boot = time.monotonic()
    vm = start_qemu(kernel, overlay, port, state, "lab")
    Guest(pid=vm.pid, port=port, tls=tls, overlay=overlay, started=time.time()).save()
    wait_ready(vm.pid, port, tls, state / "lab-console.log")
    log(f"guest ready: boot {time.monotonic() - t_boot:.0f}s, total {time.monotonic() - t0:.0f}s; "
        f"Docker API on 127.0.0.1:{port} (mutual TLS, keys in {tls / 'client'})")
    log("stop it with: tools/labhost down   (or: make lab-down)")
    return LabHost(docker_env(port, tls), "qemu", True)


def cmd_up(args: argparse.Namespace) -> int:
    print_env(*bring_up())
    return 0


def child_env(env: dict[str, str], kind: str, started: bool) -> dict[str, str]:
    """This process's environment with the lab host's: what `source <(labhost up)` would give a shell."""
    out = {key: value for key, value in os.environ.items() if key not in DOCKER_KEYS}
    out.update(env)
    out.update(LVS_DR_LABHOST=kind, LVS_DR_LABHOST_STARTED="1" if started else "0")
    return out


def cmd_exec(args: argparse.Namespace) -> int:
    """Run a command against the lab host; a guest this call started is stopped when the command ends,
    whatever its outcome, unless LVS_DR_KEEP_LABHOST=1. Exit status: the command's."""
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        raise LabError("exec: no command given (tools/labhost exec -- COMMAND [ARG...])")
    env, kind, started = bring_up()
    stop = started and os.environ.get("LVS_DR_KEEP_LABHOST", "0") != "1"
    proc: Optional[subprocess.Popen] = None

    def forward(signum: int, _frame: object) -> None:
        if proc is not None:
            proc.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward)
    try:
        try:
            proc = subprocess.Popen(command, env=child_env(env, kind, started))
        except OSError as exc:
            raise LabError(f"exec: cannot run {command[0]}: {exc.strerror}") from None
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the command got the ^C too (same process group): wait for it
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
        if stop:
            cmd_down(args)


def cmd_env(args: argparse.Namespace) -> int:
    guest = running_guest()
    if guest:
        print_env(docker_env(guest.port, guest.tls), "qemu", False)
        return 0
    local = local_engine_env()
    if local is not None:
        print_env(local, "local", False)
        return 0
    raise LabError("no lab host is running: start one with 'tools/labhost up' (or 'make lab')")


def cmd_status(args: argparse.Namespace) -> int:
    cache = cache_dir()
    guest = Guest.load()
    print(f"cache: {cache}")
    if guest and guest.alive():
        ready = docker_ping(guest.port, guest.tls)
        qemu_state = guest.process.status()  # None: no QMP socket (a guest started before QMP was used)
        rss = ""
        with contextlib.suppress(OSError):
            m = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{guest.pid}/status").read_text())
            rss = f", host RSS {int(m.group(1)) // 1024} MiB" if m else ""
        print(f"guest: running, pid {guest.pid}, Docker API 127.0.0.1:{guest.port} "
              f"({'ready' if ready else 'not answering'}){rss}"
              + (f", QEMU {qemu_state}" if qemu_state not in (None, "running") else ""))
    else:
        print("guest: not running")
    for path in sorted(cache.glob("*")):
        if path.is_file():
            print(f"  {path.name}  {path.stat().st_blocks * 512 // 2**20} MiB on disk")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    guest = Guest.load()
    if not guest:
        log("no lab guest is running")
        return 0
    guest.stop()
    guest.overlay.unlink(missing_ok=True)
    Guest.forget()
    log(f"lab guest stopped (pid {guest.pid}); cached images stay in {cache_dir()}")
    return 0


def cmd_images(args: argparse.Namespace) -> int:
    for suite, path in build_images(cache_dir(), debian_mirror()).items():
        print(f"{node_image_tag(suite)} {path}")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="labhost", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    handlers = {"up": cmd_up, "cache": cmd_cache, "env": cmd_env, "status": cmd_status, "down": cmd_down,
                "images": cmd_images, "exec": cmd_exec}
    for name in handlers:
        parser_of = sub.add_parser(name)
        if name == "exec":
            parser_of.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARG...]")
    args = parser.parse_args(argv)
    handler = handlers[args.cmd]
    try:
        return handler(args)
    except LabError as exc:
        log(f"error: {exc}")
        return 2
    except KeyboardInterrupt:
        return 130
