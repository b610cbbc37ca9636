"""The keys of the guest's Docker API: a CA, a server certificate for 127.0.0.1, a client certificate.

Files in the cache's tls/ directory (the names docker and dockerd expect):
ca.pem, ca-key.pem, server-cert.pem, server-key.pem for the guest disk, and
client/{ca,cert,key}.pem for DOCKER_CERT_PATH. Keys that exist are never
rewritten: the guest disk's cache key hashes server-cert.pem, and the disk
holds the server key.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
from pathlib import Path

from .common import LabError, log

VALID_DAYS = 3650


def ensure_tls(cache: Path) -> Path:
    tls = cache / "tls"
    client = tls / "client"
    if (client / "key.pem").exists() and (tls / "server-key.pem").exists():
        return tls
    try:
        from cryptography import x509  # noqa: PLC0415 - only needed when keys are made
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415
    except ImportError:
        raise LabError("the Python package 'cryptography' is missing: run labhost with the project venv's "
                       "python3 (make deps; the Makefile puts .venv/bin first on PATH)") from None
    log("tls: generating a CA, a server and a client key for the guest's Docker API")
    shutil.rmtree(tls, ignore_errors=True)
    client.mkdir(parents=True)
    os.chmod(tls, 0o700)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)

    def certificate(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
                    issuer_key: ec.EllipticCurvePrivateKey, extensions: list[tuple[x509.ExtensionType, bool]],
                    ) -> x509.Certificate:
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                  critical=False))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(issuer_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = certificate("lvs-dr lab CA", ca_key, name("lvs-dr lab CA"), ca_key,
                          [(x509.BasicConstraints(ca=True, path_length=None), True)])
    write_key(ca_key, tls / "ca-key.pem")
    (tls / "ca.pem").write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    leaves = {
        "server": [(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                 x509.DNSName("localhost")]), False),
                   (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)],
        "client": [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
    }
    for who, extensions in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificate(f"lvs-dr lab {who}", key, ca_cert.subject, ca_key, extensions)
        write_key(key, tls / f"{who}-key.pem")
        (tls / f"{who}-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    shutil.copy(tls / "ca.pem", client / "ca.pem")
    shutil.move(str(tls / "client-cert.pem"), client / "cert.pem")
    shutil.move(str(tls / "client-key.pem"), client / "key.pem")
    return tls


def tls_context(tls: Path) -> ssl.SSLContext:
    """The client side of the guest's mutual TLS, as the docker client sees it."""
    ctx = ssl.create_default_context(cafile=str(tls / "client" / "ca.pem"))
    ctx.load_cert_chain(str(tls / "client" / "cert.pem"), str(tls / "client" / "key.pem"))
    return ctx
