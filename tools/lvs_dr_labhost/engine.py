"""A Docker engine: its client environment, its ping, the node images imported into it, its IPVS probe."""

from __future__ import annotations

import concurrent.futures
import http.client
import os
import shutil
import ssl
import subprocess
import time
from pathlib import Path
from typing import Optional

from .common import TOOLS, log, node_image_tag, run
from .hosttools import need_tools
from .tls import tls_context


def docker_ping(port: int, tls: Path, timeout: float = 3.0) -> bool:
    try:
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=tls_context(tls), timeout=timeout)
        conn.request("GET", "/_ping")
        ok = conn.getresponse().status == 200
        conn.close()
        return ok
    except (OSError, ssl.SSLError, http.client.HTTPException):
        return False


def docker_env(port: int, tls: Path) -> dict[str, str]:
    env = {"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
           "DOCKER_CERT_PATH": str(tls / "client"),
           # An emulated engine can take minutes to start a container under
           # load; community.docker's default API timeout is 60 s.
           "DOCKER_TIMEOUT": os.environ.get("DOCKER_TIMEOUT", "300")}
    # python-requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override the CA
    # the Docker SDK asks for; where the environment sets one, hand out a copy
    # that also trusts the lab CA, so both keep working.
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        bundle = os.environ.get(var)
        combined = tls / "client" / f"{var.lower()}.pem"
        if bundle and Path(bundle) == combined:
            env[var] = bundle
        elif bundle and Path(bundle).is_file():
            combined.write_bytes(Path(bundle).read_bytes() + b"\n" + (tls / "client" / "ca.pem").read_bytes())
            env[var] = str(combined)
    return env


def docker_cli(env: dict[str, str], *args: str, **kw: object) -> subprocess.CompletedProcess:
    need_tools({"docker": "docker.io"})
    return run(["docker", *args], env=env, **kw)  # type: ignore[arg-type]


def import_node_image(env: dict[str, str], suite: str, tarball: Path) -> None:
    tag = node_image_tag(suite)
    key = tarball.stem.rsplit("-", 1)[-1]
    have = docker_cli(env, "image", "inspect", "-f", '{{ index .Config.Labels "lvs-dr.key" }}', tag,
                      capture=True, check=False)
    if have.returncode == 0 and have.stdout.strip() == key:
        return
    t0 = time.monotonic()
    log(f"images: importing {tag} ({tarball.stat().st_size // 2**20} MiB)")
    docker_cli(env, "import",
               "--change", 'CMD ["/sbin/init"]',
               "--change", "ENV container=docker",
               "--change", f"LABEL lvs-dr.key={key}",
               str(tarball), tag, capture=True)
    log(f"images: {tag} imported in {time.monotonic() - t0:.0f}s")


def import_node_images(env: dict[str, str], tarballs: dict[str, Path]) -> None:
    """Every node image into the engine, side by side: each import keeps one emulated CPU busy."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(tarballs))) as pool:
        futures = [pool.submit(import_node_image, env, suite, tarball) for suite, tarball in tarballs.items()]
        for future in futures:
            future.result()


# The one IPVS probe of the project (the Molecule scenarios' pre-flight runs it
# too): generic netlink straight to the kernel, a service added, found in
# /proc/net/ip_vs and deleted; no ipvsadm needed in the image.
IPVS_PROBE = TOOLS.parent / "extensions" / "molecule" / "shared" / "ipvs_probe.py"


def local_engine_env() -> Optional[dict[str, str]]:
    """The environment for the already reachable Docker engine, if there is one."""
    if os.environ.get("LVS_DR_LABHOST") == "qemu" or not shutil.which("docker"):
        return None
    env = {k: v for k, v in os.environ.items() if k.startswith("DOCKER_")}
    probe = run(["docker", "version", "--format", "{{.Server.Version}}"], capture=True, check=False, timeout=20)
    if probe.returncode != 0:
        return None
    return env


def engine_has_ipvs(env: dict[str, str], suite: str) -> bool:
    probe = docker_cli(env, "run", "--rm", "--privileged", "--network=none", node_image_tag(suite),
                       "python3", "-c", IPVS_PROBE.read_text(), capture=True, check=False)
    return probe.returncode == 0
