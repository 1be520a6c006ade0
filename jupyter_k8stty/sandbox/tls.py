"""A throwaway certificate authority and server certificate for the sandbox.

Every sandbox gets a fresh CA, so nothing it signs is trusted anywhere else.
ECDSA P-256 keys generate in a millisecond, which keeps test start-up fast.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from jupyter_k8stty.sandbox.lifetime import temp_prefix

_VALIDITY = datetime.timedelta(days=7)
# Clocks of a client and the sandbox may disagree a little; back-date to be safe.
_BACKDATE = datetime.timedelta(hours=1)


@dataclass(frozen=True)
class Certificates:
    """PEM material of one sandbox: the CA certificate and the server's cert and key."""

    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "jupyter-k8stty sandbox"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _subject_alt_names(host: str) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    if host and host not in ("localhost", "127.0.0.1", "::1"):
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            names.append(x509.DNSName(host))
        else:
            if not ip.is_unspecified:
                names.append(x509.IPAddress(ip))
    return names


def make_certificates(host: str = "127.0.0.1") -> Certificates:
    """Create a new CA and a server certificate it signs, valid for ``host`` and loopback.

    Args:
        host: the address or name the server binds to; it is added to the SANs.

    Returns:
        The CA certificate and the server certificate and key, all PEM.
    """
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("k8stty-sandbox-ca")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("k8stty-sandbox-apiserver"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_subject_alt_names(host)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return Certificates(
        ca_pem=ca_cert.public_bytes(serialization.Encoding.PEM),
        cert_pem=cert.public_bytes(serialization.Encoding.PEM),
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def server_context(certs: Certificates) -> ssl.SSLContext:
    """Return a server-side TLS context that presents the sandbox certificate.

    ``ssl`` only loads keys from files, so the PEM goes through a private
    temporary file that is deleted straight after loading.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    # kubectl (Go) negotiates h2 when offered; the sandbox speaks HTTP/1.1 only.
    ctx.set_alpn_protocols(["http/1.1"])
    fd, path = tempfile.mkstemp(prefix=temp_prefix("key"), suffix=".pem")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(certs.cert_pem + certs.key_pem)
        ctx.load_cert_chain(path)
    finally:
        os.unlink(path)
    return ctx
