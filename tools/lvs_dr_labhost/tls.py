"""The keys of the guest's Docker API: a CA, a server certificate for 127.0.0.1, a client certificate."""

from __future__ import annotations

import os
import shutil
import ssl
from pathlib import Path

from .common import log, run
from .hosttools import need_tools


def ensure_tls(cache: Path) -> Path:
    tls = cache / "tls"
    client = tls / "client"
    if (client / "key.pem").exists() and (tls / "server-key.pem").exists():
        return tls
    need_tools({"openssl": "openssl"})
    log("tls: generating a CA, a server and a client key for the guest's Docker API")
    shutil.rmtree(tls, ignore_errors=True)
    client.mkdir(parents=True)
    os.chmod(tls, 0o700)

    def ossl(*args: str) -> None:
        run(["openssl", *args], cwd=tls, capture=True)

    ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
         "-subj", "/CN=lvs-dr lab CA", "-keyout", "ca-key.pem", "-out", "ca.pem")
    for who, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth"),
                     ("client", "extendedKeyUsage=clientAuth")):
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-subj", f"/CN=lvs-dr lab {who}", "-keyout", f"{who}-key.pem", "-out", f"{who}.csr")
        (tls / f"{who}.ext").write_text(ext + "\n")
        ossl("x509", "-req", "-in", f"{who}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-days", "3650", "-extfile", f"{who}.ext", "-out", f"{who}-cert.pem")
    shutil.copy(tls / "ca.pem", client / "ca.pem")
    shutil.move(str(tls / "client-cert.pem"), client / "cert.pem")
    shutil.move(str(tls / "client-key.pem"), client / "key.pem")
    for pem in tls.rglob("*key.pem"):
        os.chmod(pem, 0o600)
    return tls


def tls_context(tls: Path) -> ssl.SSLContext:
    """The client side of the guest's mutual TLS, as the docker client sees it."""
    ctx = ssl.create_default_context(cafile=str(tls / "client" / "ca.pem"))
    ctx.load_cert_chain(str(tls / "client" / "cert.pem"), str(tls / "client" / "key.pem"))
    return ctx
