"""Unit tests for the pure parts of tools/labhost (no QEMU, no Docker)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import lzma
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

REPO = Path(__file__).resolve().parents[2]


def _load_labhost():
    loader = importlib.machinery.SourceFileLoader("labhost", str(REPO / "tools" / "labhost"))
    spec = importlib.util.spec_from_loader("labhost", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


labhost = _load_labhost()


DEB822 = """\
Types: deb
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.fixture(autouse=True)
def _no_mirror_override(monkeypatch):
    monkeypatch.delenv("LVS_DR_DEBIAN_MIRROR", raising=False)


def test_mirror_from_deb822_skips_security(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    assert labhost.hosttools.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_legacy_sources_list(tmp_path):
    (tmp_path / "sources.list").write_text(
        "deb http://mirror.example/debian-security bookworm-security main\n"
        "deb [arch=amd64] http://mirror.example/debian/ bookworm main\n"
    )
    assert labhost.hosttools.debian_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_override_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_DR_DEBIAN_MIRROR", "http://other.example/debian/")
    assert labhost.hosttools.debian_mirror(tmp_path) == "http://other.example/debian"


def test_no_debian_mirror_is_a_clear_error(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://archive.example/ubuntu jammy main\n")
    with pytest.raises(labhost.common.LabError, match="LVS_DR_DEBIAN_MIRROR"):
        labhost.hosttools.debian_mirror(tmp_path)


def test_module_closure_orders_dependencies_first(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko kernel/fs/mbcache.ko kernel/lib/crc16.ko\n"
        "kernel/fs/jbd2/jbd2.ko:\n"
        "kernel/fs/mbcache.ko:\n"
        "kernel/lib/crc16.ko:\n"
        "kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko\n"
        "kernel/drivers/virtio/virtio.ko:\n"
        "kernel/crypto/crc32c_generic.ko.xz:\n"
    )
    order = labhost.kernel.module_closure(tmp_path, ("virtio_blk", "crc32c_generic", "ext4", "not_there"))
    assert order == [
        "kernel/drivers/virtio/virtio.ko",
        "kernel/drivers/block/virtio_blk.ko",
        "kernel/crypto/crc32c_generic.ko.xz",
        "kernel/fs/jbd2/jbd2.ko",
        "kernel/fs/mbcache.ko",
        "kernel/lib/crc16.ko",
        "kernel/fs/ext4/ext4.ko",
    ]


def test_extract_vmlinux_finds_the_elf_payload(tmp_path):
    elf = b"\x7fELF" + bytes(range(256)) * 64
    decoy = lzma.compress(b"not an elf", format=lzma.FORMAT_XZ)
    bzimage = tmp_path / "vmlinuz"
    bzimage.write_bytes(b"MZ setup code" + decoy + b"pad" + lzma.compress(elf, format=lzma.FORMAT_XZ) + b"trailer")
    out = tmp_path / "vmlinux"
    assert labhost.kernel.extract_vmlinux(bzimage, out)
    assert out.read_bytes() == elf


def test_extract_vmlinux_reports_no_payload(tmp_path):
    bzimage = tmp_path / "vmlinuz"
    bzimage.write_bytes(b"MZ gzip-compressed kernel, no xz here")
    assert not labhost.kernel.extract_vmlinux(bzimage, tmp_path / "vmlinux")


def test_digest_depends_on_content(tmp_path):
    f = tmp_path / "script.sh"
    f.write_text("echo one\n")
    first = labhost.common.digest("guest", f)
    assert first == labhost.common.digest("guest", f)
    f.write_text("echo two\n")
    assert labhost.common.digest("guest", f) != first


def test_prune_keeps_current_artefacts_only(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_DR_SUITES", "bookworm")
    keep = {tmp_path / "guest-new.raw", tmp_path / "node-bookworm-new.tar", tmp_path / "kernel-new"}
    stale = [tmp_path / "guest-old.raw", tmp_path / "node-bookworm-old.tar", tmp_path / "guest-old-images-x.qcow2"]
    for path in [*keep, *stale]:
        if path.name.startswith("kernel-"):
            path.mkdir()
        else:
            path.write_text("x")
    (tmp_path / "tls").mkdir()
    labhost.commands.prune(tmp_path, keep)
    assert all(p.exists() for p in keep)
    assert not any(p.exists() for p in stale)
    assert (tmp_path / "tls").exists()


def test_print_env_for_the_guest(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("DOCKER_TIMEOUT", raising=False)
    labhost.commands.print_env(labhost.engine.docker_env(23760, tmp_path), "qemu", True)
    lines = capsys.readouterr().out.splitlines()
    assert "export DOCKER_HOST=tcp://127.0.0.1:23760" in lines
    assert "export DOCKER_TLS_VERIFY=1" in lines
    assert f"export DOCKER_CERT_PATH={tmp_path / 'client'}" in lines
    assert "export DOCKER_TIMEOUT=300" in lines
    assert "export LVS_DR_LABHOST=qemu" in lines
    assert "export LVS_DR_LABHOST_STARTED=1" in lines


def test_ca_bundle_also_trusts_the_lab_ca(tmp_path, monkeypatch):
    system = tmp_path / "system.pem"
    system.write_text("SYSTEM CA\n")
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "ca.pem").write_text("LAB CA\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(system))
    env = labhost.engine.docker_env(1, tmp_path)
    bundle = Path(env["REQUESTS_CA_BUNDLE"]).read_text()
    assert "SYSTEM CA" in bundle
    assert "LAB CA" in bundle


def test_unknown_suite_is_named(monkeypatch):
    monkeypatch.setenv("LVS_DR_SUITES", "bookworm,sid")
    with pytest.raises(labhost.common.LabError, match="'sid'"):
        labhost.common.suites()


def test_missing_tools_name_the_packages(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    with pytest.raises(labhost.common.LabError, match="apt-get install -y qemu-system-x86 qemu-utils"):
        labhost.hosttools.need_tools({"qemu-img": "qemu-utils", "qemu-system-x86_64": "qemu-system-x86"})


# A stand-in for debootstrap: it claims its --cache-dir while it "downloads"
# and fails the way the real one did when another run validated the same
# files at the same time.
FAKE_DEBOOTSTRAP = """\
#!/bin/sh
for arg; do case "$arg" in --cache-dir=*) cache="${arg#--cache-dir=}";; esac; done
target="$5"
mkdir -p "$target/debootstrap" "$target/tmp" "$target/etc"
if ! mkdir "$cache/.in-use" 2>/dev/null; then
    i=0; while [ $i -lt 20 ]; do echo "I: Validating pkg$i"; i=$((i+1)); done
    echo "E: Couldn't download package: pkg7 (cache busy)" >> "$target/debootstrap/debootstrap.log"
    exit 1
fi
sleep 1
echo "$@" >> "$cache/used-by"
rmdir "$cache/.in-use"
"""


@pytest.fixture
def fake_debootstrap(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "debootstrap"
    script.write_text(FAKE_DEBOOTSTRAP)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    monkeypatch.setattr(labhost.images, "require_root", lambda why: None)
    monkeypatch.setattr(labhost.images, "chroot_script", lambda root, script, *args: None)
    monkeypatch.setenv("LVS_DR_GUEST_DISK", "8M")
    return script


def test_guest_and_images_build_side_by_side_on_an_empty_cache(tmp_path, fake_debootstrap, monkeypatch):
    """The guest disk (bookworm) and the bookworm node image start at the same
    moment on an empty cache; each debootstrap must get a cache of its own."""
    if not shutil.which("mkfs.ext4", path="/usr/sbin:/sbin:" + os.environ["PATH"]):
        pytest.skip("mkfs.ext4 not installed (make deps)")
    monkeypatch.setenv("PATH", os.environ["PATH"] + ":/usr/sbin:/sbin")
    monkeypatch.setenv("LVS_DR_SUITES", "bookworm")
    cache = tmp_path / "cache"
    cache.mkdir()
    modules = tmp_path / "kernel" / "lib" / "modules" / "6.1.0-test"
    modules.mkdir(parents=True)
    kernel = labhost.kernel.Kernel(dir=tmp_path / "kernel", vmlinux=tmp_path / "vmlinux", initrd=tmp_path / "initrd",
                                   modules=modules, release="6.1.0-test")
    tls = tmp_path / "tls"
    tls.mkdir()
    for name in ("ca.pem", "server-cert.pem", "server-key.pem"):
        (tls / name).write_text(name)

    base, tarballs = labhost.commands.build_guest_and_images(cache, kernel, "http://mirror.example/debian", tls)

    assert base.exists() and base.name.startswith("guest-")
    assert tarballs["bookworm"].exists()
    caches = sorted(p.parent.name for p in (cache / "debs").glob("*/used-by"))
    assert caches == ["guest-bookworm", "node-bookworm"]


def test_debootstrap_failure_names_the_cause_not_the_progress(tmp_path, fake_debootstrap):
    debs = tmp_path / "debs" / "node-bookworm"
    debs.mkdir(parents=True)
    (debs / ".in-use").mkdir()  # someone else holds this cache
    with pytest.raises(labhost.common.LabError) as err:
        labhost.images.debootstrap(tmp_path / "root", "bookworm", "python3", "http://mirror.example/debian", debs)
    message = str(err.value)
    assert "E: Couldn't download package: pkg7 (cache busy)" in message
    assert "I: Validating" not in message
    saved = tmp_path / "debs" / "node-bookworm-debootstrap.log"
    assert saved.read_text().startswith("E: Couldn't download")
    assert str(saved) in message


# --------------------------------------------------------------------------- labhost exec


@pytest.fixture
def fake_host(monkeypatch, tmp_path):
    """bring_up and cmd_down replaced: a guest 'started' by this call (or not), and a record of stops."""
    stops: list[str] = []
    state = {"started": True}
    env = {"DOCKER_HOST": "tcp://127.0.0.1:23999", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(tmp_path)}
    monkeypatch.setattr(labhost.commands, "bring_up", lambda: (dict(env), "qemu", state["started"]))
    monkeypatch.setattr(labhost.commands, "cmd_down", lambda _args: stops.append("down") or 0)
    monkeypatch.delenv("LVS_DR_KEEP_LABHOST", raising=False)
    return stops, state


def test_exec_runs_the_command_with_the_exports_and_stops_the_guest_it_started(fake_host, tmp_path, monkeypatch):
    stops, _state = fake_host
    out = tmp_path / "env.txt"
    monkeypatch.setenv("DOCKER_CONTEXT_LEFTOVER", "kept")
    script = f'echo "$DOCKER_HOST $LVS_DR_LABHOST $LVS_DR_LABHOST_STARTED $DOCKER_CONTEXT_LEFTOVER" > {out}; exit 3'
    assert labhost.commands.main(["exec", "--", "sh", "-c", script]) == 3  # the command's exit status
    assert out.read_text().split() == ["tcp://127.0.0.1:23999", "qemu", "1", "kept"]
    assert stops == ["down"]  # also when the command failed


def test_exec_leaves_a_guest_it_did_not_start_or_when_asked_to(fake_host, monkeypatch):
    stops, state = fake_host
    state["started"] = False
    assert labhost.commands.main(["exec", "--", "true"]) == 0
    assert stops == []
    state["started"] = True
    monkeypatch.setenv("LVS_DR_KEEP_LABHOST", "1")
    assert labhost.commands.main(["exec", "--", "true"]) == 0
    assert stops == []


def test_exec_a_local_engine_drops_the_tls_exports(monkeypatch):
    monkeypatch.setenv("DOCKER_CERT_PATH", "/somewhere/else")
    monkeypatch.setenv("DOCKER_TLS_VERIFY", "1")
    env = labhost.commands.child_env({"DOCKER_HOST": "unix:///run/docker.sock"}, "local", False)
    assert env["DOCKER_HOST"] == "unix:///run/docker.sock" and env["LVS_DR_LABHOST_STARTED"] == "0"
    assert "DOCKER_CERT_PATH" not in env and "DOCKER_TLS_VERIFY" not in env


def test_exec_errors_name_what_is_missing(fake_host, capsys):
    stops, _state = fake_host
    assert labhost.commands.main(["exec"]) == 2
    assert "exec: no command given" in capsys.readouterr().err
    assert labhost.commands.main(["exec", "--", "/nonexistent/command"]) == 2
    assert "exec: cannot run /nonexistent/command" in capsys.readouterr().err
    assert stops == ["down"]  # the guest it started is stopped again


# --------------------------------------------------------------------------- TLS keys


def _mutual_tls_round_trip(tls: Path, client_ctx) -> bytes:
    """One request over mutual TLS to a server holding the guest's keys (127.0.0.1, a free port)."""
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tls / "ca.pem"))
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.load_cert_chain(str(tls / "server-cert.pem"), str(tls / "server-key.pem"))
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        conn, _address = listener.accept()
        with server_ctx.wrap_socket(conn, server_side=True) as tls_conn:
            seen["peer"] = tls_conn.getpeercert()
            tls_conn.sendall(b"pong")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as conn:
            answer = conn.recv(4)
    finally:
        thread.join(10)
        listener.close()
    assert dict(x[0] for x in seen["peer"]["subject"])["commonName"] == "lvs-dr lab client"
    return answer


def test_tls_keys_made_in_an_empty_cache_pass_mutual_tls(tmp_path):
    tls = labhost.tls.ensure_tls(tmp_path)
    assert tls == tmp_path / "tls"
    for name in ("ca.pem", "ca-key.pem", "server-cert.pem", "server-key.pem",
                 "client/ca.pem", "client/cert.pem", "client/key.pem"):
        assert (tls / name).is_file(), name
    for key in ("ca-key.pem", "server-key.pem", "client/key.pem"):
        assert (tls / key).stat().st_mode & 0o777 == 0o600
    assert (tls / "server-key.pem").read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert _mutual_tls_round_trip(tls, labhost.tls.tls_context(tls)) == b"pong"


def test_tls_certificates_are_what_dockerd_and_its_clients_expect(tmp_path):
    tls = labhost.tls.ensure_tls(tmp_path)
    ca = x509.load_pem_x509_certificate((tls / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((tls / "server-cert.pem").read_bytes())
    client = x509.load_pem_x509_certificate((tls / "client" / "cert.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert list(server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH]
    for cert in (ca, server, client):
        days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
        assert days == labhost.tls.VALID_DAYS
    assert server.issuer == ca.subject == client.issuer


def test_existing_tls_keys_are_never_rewritten(tmp_path):
    """The guest disk's cache key hashes server-cert.pem and the disk holds the server key."""
    tls = labhost.tls.ensure_tls(tmp_path)
    before = {p: p.read_bytes() for p in tls.rglob("*.pem")}
    assert labhost.tls.ensure_tls(tmp_path) == tls
    assert {p: p.read_bytes() for p in tls.rglob("*.pem")} == before


def test_prune_removes_only_the_link_to_another_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LVS_DR_SUITES", "bookworm")
    shared = tmp_path / "shared"
    (shared / "kernel-old").mkdir(parents=True)
    (shared / "kernel-old" / "vmlinux").write_text("x")
    (shared / "guest-old.raw").write_text("x")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "kernel-old").symlink_to(shared / "kernel-old")
    (cache / "guest-old.raw").symlink_to(shared / "guest-old.raw")
    labhost.commands.prune(cache, set())
    assert not (cache / "kernel-old").is_symlink() and not (cache / "guest-old.raw").is_symlink()
    assert (shared / "kernel-old" / "vmlinux").exists() and (shared / "guest-old.raw").exists()


# --------------------------------------------------------------------------- QMP

# A stand-in for QEMU's QMP monitor: it greets, answers query-status, ignores
# the power button (a guest that does not power off) and exits on quit. Its
# command line names qemu, as pid_alive expects.
FAKE_QEMU = """\
import json, socket, sys
server = socket.socket(socket.AF_UNIX)
server.bind(sys.argv[1])
server.listen(1)
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    f = conn.makefile("rwb")
    f.write(b'{"QMP": {"version": {}, "capabilities": []}}\\n'); f.flush()
    for line in f:
        cmd = json.loads(line)["execute"]
        if cmd == "system_powerdown":  # an event may come before the answer
            f.write(b'{"event": "POWERDOWN", "timestamp": {}}\\n')
        if cmd == "send-key":
            cmd += "+" + "-".join(k["data"] for k in json.loads(line)["arguments"]["keys"])
        with open(sys.argv[2], "a") as log:
            log.write(cmd + "\\n")
        answer = {"status": "running", "running": True} if cmd == "query-status" else {}
        f.write(json.dumps({"return": answer}).encode() + b"\\n"); f.flush()
        if cmd == "quit":
            sys.exit(0)
    f.close()
    conn.close()
"""


@pytest.fixture
def fake_qemu(tmp_path):
    script = tmp_path / "fake-qemu.py"
    script.write_text(FAKE_QEMU)
    sock, calls = tmp_path / "lab.qmp", tmp_path / "calls"
    proc = subprocess.Popen([sys.executable, str(script), str(sock), str(calls)], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"listening\n"
    yield labhost.qemu.QemuProcess(proc.pid, sock), proc, calls
    proc.kill()
    proc.wait()


def test_qmp_status_and_a_stop_that_needs_quit(fake_qemu):
    vm, proc, calls = fake_qemu
    assert vm.status() == "running"
    assert vm.alive()
    reaper = threading.Thread(target=proc.wait)  # the test's child: reap it so that its pid goes away
    reaper.start()
    vm.stop(grace=0.5)
    reaper.join(10)
    assert proc.returncode == 0  # it quit: no signal was needed
    commands = calls.read_text().split()
    assert commands == ["qmp_capabilities", "query-status"] * 2 + [
        "qmp_capabilities", "system_powerdown", "qmp_capabilities", "quit"]


def test_a_clean_stop_syncs_and_remounts_before_quit(fake_qemu, monkeypatch):
    vm, proc, calls = fake_qemu
    monkeypatch.setattr(labhost.qemu, "SYSRQ_SETTLE", 0.1)
    reaper = threading.Thread(target=proc.wait)
    reaper.start()
    vm.stop(grace=0.5, clean=True)
    reaper.join(10)
    assert proc.returncode == 0
    assert calls.read_text().split() == ["qmp_capabilities", "system_powerdown", "qmp_capabilities",
                                         "send-key+alt-sysrq-s", "send-key+alt-sysrq-u", "quit"]


def test_without_qmp_the_pid_decides(tmp_path):
    proc = subprocess.Popen(["sleep", "30"])
    try:
        vm = labhost.qemu.QemuProcess(proc.pid, tmp_path / "absent.qmp")
        assert vm.status() is None
        assert not vm.alive()  # not a qemu: pid_alive looks at the command line
    finally:
        proc.kill()
        proc.wait()
