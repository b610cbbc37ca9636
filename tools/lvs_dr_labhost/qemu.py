"""The QEMU guest: started, waited for, stopped; and its disk layer with the node images imported."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .common import LabError, digest, log, node_image_tag, run, run_dir, tail
from .engine import docker_cli, docker_env, docker_ping, import_node_images
from .kernel import Kernel

GUEST_PORT_IN = 2376
READY_TIMEOUT = 300


@dataclass(frozen=True)
class Guest:
    """The running lab guest, as recorded in the run directory's state.json."""

    pid: int
    port: int
    tls: Path
    overlay: Path
    started: float

    @staticmethod
    def state_file() -> Path:
        return run_dir() / "state.json"

    @classmethod
    def load(cls) -> Optional[Guest]:
        try:
            raw = json.loads(cls.state_file().read_text())
            return cls(pid=int(raw["pid"]), port=int(raw["port"]), tls=Path(raw["tls"]),
                       overlay=Path(raw["overlay"]), started=float(raw.get("started", 0)))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self) -> None:
        self.state_file().write_text(json.dumps({"pid": self.pid, "port": self.port, "tls": str(self.tls),
                                                 "overlay": str(self.overlay), "started": self.started}))

    @classmethod
    def forget(cls) -> None:
        cls.state_file().unlink(missing_ok=True)

    def alive(self) -> bool:
        return pid_alive(self.pid)

    def stop(self) -> None:
        stop_pid(self.pid)


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise LabError("no free TCP port on 127.0.0.1")


def start_qemu(kernel: Kernel, disk: Path, port: int, state: Path, tag: str) -> int:
    console = state / f"{tag}-console.log"
    pidfile = state / f"{tag}.pid"
    mem = os.environ.get("LVS_DR_GUEST_MEM", "2048")
    argv = [
        "qemu-system-x86_64", "-name", f"lvs-dr-{tag}",
        "-accel", "tcg,thread=multi,tb-size=256", "-cpu", "max", "-smp", os.environ.get("LVS_DR_GUEST_CPUS", "2"),
        "-m", mem, "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
        "-kernel", str(kernel.vmlinux), "-initrd", str(kernel.initrd),
        "-append", "console=ttyS0 root=/dev/vda rw apparmor=0 net.ifnames=0 quiet systemd.show_status=0 "
                   "mitigations=off random.trust_cpu=on",
        "-drive", f"file={disk},if=virtio,format=qcow2,discard=unmap,cache=unsafe",
        "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{port}-:{GUEST_PORT_IN}",
        "-device", "virtio-net-pci,netdev=net0",
        "-device", "virtio-rng-pci",
        "-serial", f"file:{console}",
        "-daemonize", "-pidfile", str(pidfile),
    ]
    run(argv, capture=True)
    return int(pidfile.read_text().strip())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return "qemu" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True


def wait_ready(pid: int, port: int, tls: Path, console: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise LabError(f"the guest stopped while booting; its console: {console}\n" + tail(console))
        if docker_ping(port, tls):
            return
        time.sleep(1)
    raise LabError(f"the guest's Docker API did not answer within {READY_TIMEOUT}s; console: {console}\n"
                   + tail(console))


def stop_pid(pid: int, grace: float = 20.0) -> None:
    if not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.2)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def provisioned_disk(cache: Path, base: Path, kernel: Kernel, tls: Path,
                     tarballs: dict[str, Path]) -> Path:
    """The guest disk with the node images already imported (a qcow2 layer over the base)."""
    key = digest(base.name, *sorted(t.name for t in tarballs.values()))
    out = cache / f"{base.stem}-images-{key}.qcow2"
    if out.exists():
        return out
    log("guest: first boot, importing the node images into it (once per image set)")
    t0 = time.monotonic()
    part = out.with_suffix(".part")
    part.unlink(missing_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", str(base), str(part)], capture=True)
    state = run_dir()
    port = free_port(0)
    pid = start_qemu(kernel, part, port, state, "provision")
    try:
        wait_ready(pid, port, tls, state / "provision-console.log")
        env = docker_env(port, tls)
        import_node_images(env, tarballs)
        # A clean shutdown, so the layer is consistent before it is reused.
        docker_cli(env, "run", "--rm", "--privileged", "--pid=host", "--network=none",
                   node_image_tag(next(iter(tarballs))), "nsenter", "-t", "1", "-m", "--", "systemctl",
                   "poweroff", capture=True, check=False)
        deadline = time.monotonic() + 120
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        stop_pid(pid)
    part.rename(out)
    log(f"guest: image layer ready in {time.monotonic() - t0:.0f}s")
    return out
