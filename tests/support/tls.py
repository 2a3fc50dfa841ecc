"""A self-made certificate for TLS tests on loopback, made with the openssl command line tool."""

from __future__ import annotations

import hashlib
import socket
import ssl
import subprocess
from pathlib import Path

__all__ = ["make_certificate", "peer_fingerprint"]


def make_certificate(directory: Path, name: str = "pbx") -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 / localhost (valid 2 days) and its key, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def peer_fingerprint(port: int, cafile: Path) -> str:
    """SHA-256 of the certificate 127.0.0.1:``port`` presents (verified against ``cafile``)."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return hashlib.sha256(der).hexdigest()
