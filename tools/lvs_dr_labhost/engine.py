"""A Docker engine: its client environment, its ping, the node images imported into it, its IPVS probe."""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import os
import shutil
import ssl
import time
from pathlib import Path
from typing import Optional

import docker
import docker.constants
import docker.errors
import docker.utils
import requests

from .common import TOOLS, LabError, log, node_image_tag
from .tls import tls_context

# Importing a node image or starting the probe's container under emulation
# can take minutes (the Docker SDK's default timeout is 60 s).
IMPORT_TIMEOUT = 600


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


def docker_client(env: dict[str, str], timeout: int = 20) -> docker.DockerClient:
    """An SDK client for the engine `env` points at (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH),
    speaking the engine's API version; asking for it is also the ping (DockerException when it does not answer).

    requests' trust_env is off before the first request: a REQUESTS_CA_BUNDLE in
    this process's environment would otherwise replace the lab CA that
    DOCKER_CERT_PATH names (docker_env hands the combined bundle to the
    commands it runs, not to this process)."""
    kwargs = docker.utils.kwargs_from_env(environment=env or dict(os.environ))

    def client_for(version: str) -> docker.DockerClient:
        client = docker.DockerClient(version=version, timeout=timeout, **kwargs)
        client.api.trust_env = False
        return client

    probe = client_for(docker.constants.MINIMUM_DOCKER_API_VERSION)
    try:
        version = probe.api.version(api_version=False)["ApiVersion"]
    except requests.exceptions.RequestException as exc:  # the SDK's own constructor wraps these too
        raise docker.errors.DockerException(f"Error while fetching server API version: {exc}") from None
    finally:
        probe.close()
    return client_for(version)


def import_node_image(env: dict[str, str], suite: str, tarball: Path) -> None:
    tag = node_image_tag(suite)
    key = tarball.stem.rsplit("-", 1)[-1]
    client = docker_client(env, timeout=IMPORT_TIMEOUT)
    with contextlib.suppress(docker.errors.ImageNotFound):
        labels = client.api.inspect_image(tag)["Config"].get("Labels") or {}
        if labels.get("lvs-dr.key") == key:
            return
    t0 = time.monotonic()
    log(f"images: importing {tag} ({tarball.stat().st_size // 2**20} MiB)")
    repository, _, image_tag = tag.partition(":")
    try:
        client.api.import_image_from_file(str(tarball), repository=repository, tag=image_tag,
                                          changes=['CMD ["/sbin/init"]', "ENV container=docker",
                                                   f"LABEL lvs-dr.key={key}"])
    except docker.errors.DockerException as exc:
        raise LabError(f"images: importing {tag} from {tarball} failed: {exc}") from None
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
    try:
        docker_client(env).close()
    except docker.errors.DockerException:
        return None
    return env


def engine_has_ipvs(env: dict[str, str], suite: str) -> bool:
    """Whether a privileged container on this engine sees a kernel with IPVS (the probe exits 0)."""
    client = docker_client(env, timeout=IMPORT_TIMEOUT)
    try:
        client.containers.run(node_image_tag(suite), ["python3", "-c", IPVS_PROBE.read_text()], remove=True,
                              privileged=True, network_mode="none", stdout=True, stderr=True)
    except docker.errors.DockerException:  # ContainerError: the probe failed; APIError: no container at all
        return False
    return True
