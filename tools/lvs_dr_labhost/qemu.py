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

from .common import LabError, digest, log, run, run_dir, tail
from .engine import docker_env, docker_ping, import_node_images
from .kernel import Kernel

GUEST_PORT_IN = 2376
READY_TIMEOUT = 300
# How long a guest may take to power off after the ACPI power button before
# QEMU is told to quit: the lab's disk is an overlay thrown away afterwards,
# the provisioning layer is kept and must be clean.
LAB_POWERDOWN_GRACE = 5.0
PROVISION_POWERDOWN_GRACE = 20.0
# SysRq s (sync) and u (remount read-only) before a quit that must leave a clean
# disk; each runs in the guest kernel's workqueue: a few seconds apart.
SYSRQ_CLEAN_STOP = ("s", "u")
SYSRQ_SETTLE = 5.0
# A unix socket's path has room for 107 bytes; a longer run directory goes without QMP.
UNIX_PATH_MAX = 107


class QmpError(LabError):
    """QEMU answered a QMP command with an error."""


class Qmp:
    """One QEMU Machine Protocol session: JSON lines over the unix socket QEMU listens on (-qmp)."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(str(path))
            self._file = self._sock.makefile("rwb")
            if "QMP" not in self._message():
                raise QmpError(f"{path}: not a QMP greeting")
            self.execute("qmp_capabilities")
        except BaseException:
            self._sock.close()
            raise

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()  # the socket's file descriptor stays open while its file object is
        self._sock.close()

    def _message(self) -> dict:
        line = self._file.readline()
        if not line:
            raise ConnectionResetError("QEMU closed the QMP socket")
        return json.loads(line)

    def execute(self, command: str, **arguments: object) -> object:
        request: dict[str, object] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._file.write(json.dumps(request).encode() + b"\n")
        self._file.flush()
        while True:
            reply = self._message()
            if "error" in reply:
                raise QmpError(f"QMP {command}: {reply['error'].get('desc', reply['error'])}")
            if "return" in reply:
                return reply["return"]
            # anything else is an asynchronous event (SHUTDOWN, POWERDOWN, ...)


@dataclass(frozen=True)
class QemuProcess:
    """A QEMU started by start_qemu: its pid, and its QMP socket (the pid is the fallback)."""

    pid: int
    qmp: Path

    def status(self) -> Optional[str]:
        """QEMU's run state ("running", "shutdown", "paused", ...), or None when QMP does not answer."""
        try:
            with Qmp(self.qmp) as session:
                answer = session.execute("query-status")
        except (OSError, ValueError, LabError):
            return None
        return str(answer.get("status")) if isinstance(answer, dict) else None

    def alive(self) -> bool:
        return self.status() is not None or pid_alive(self.pid)

    def stop(self, grace: float, clean: bool = False) -> None:
        """The ACPI power button; after `grace` seconds QMP quit (with `clean`, after the kernel's
        emergency sync and read-only remount, sent as SysRq keys); signals for a QEMU without QMP.

        The lab guest leaves out kernel/drivers/input (evdev), so systemd-logind never
        sees the power button and only the quit stops it; SysRq needs no evdev."""
        if not pid_alive(self.pid):
            return
        with contextlib.suppress(OSError, ValueError, LabError):
            with Qmp(self.qmp) as session:
                session.execute("system_powerdown")
            if not wait_for_exit(self.pid, grace):
                with Qmp(self.qmp) as session:
                    if clean:
                        for key in SYSRQ_CLEAN_STOP:
                            session.execute("send-key", keys=[{"type": "qcode", "data": k} for k in
                                                              ("alt", "sysrq", key)])
                            time.sleep(SYSRQ_SETTLE)
                    session.execute("quit")
                wait_for_exit(self.pid, 10.0)
        stop_pid(self.pid)
        self.qmp.unlink(missing_ok=True)


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

    @property
    def process(self) -> QemuProcess:
        return QemuProcess(self.pid, self.state_file().parent / "lab.qmp")

    def alive(self) -> bool:
        return self.process.alive()

    def stop(self) -> None:
        self.process.stop(grace=LAB_POWERDOWN_GRACE)


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise LabError("no free TCP port on 127.0.0.1")


def start_qemu(kernel: Kernel, disk: Path, port: int, state: Path, tag: str) -> QemuProcess:
    console = state / f"{tag}-console.log"
    pidfile = state / f"{tag}.pid"
    qmp = state / f"{tag}.qmp"
    qmp.unlink(missing_ok=True)
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
    if len(str(qmp)) < UNIX_PATH_MAX:
        argv += ["-qmp", f"unix:{qmp},server=on,wait=off"]
    run(argv, capture=True)
    return QemuProcess(int(pidfile.read_text().strip()), qmp)


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


def wait_for_exit(pid: int, seconds: float) -> bool:
    """Whether the process is gone within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.2)
    return not pid_alive(pid)


def stop_pid(pid: int, grace: float = 20.0) -> None:
    if not pid_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_for_exit(pid, grace):
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
    vm = start_qemu(kernel, part, port, state, "provision")
    try:
        wait_ready(vm.pid, port, tls, state / "provision-console.log")
        import_node_images(docker_env(port, tls), tarballs)
        # A clean stop, so the layer is consistent before it is reused.
        t_off = time.monotonic()
        vm.stop(grace=PROVISION_POWERDOWN_GRACE, clean=True)
        log(f"guest: powered off in {time.monotonic() - t_off:.0f}s")
    finally:
        vm.stop(grace=0)
    part.rename(out)
    log(f"guest: image layer ready in {time.monotonic() - t0:.0f}s")
    return out
