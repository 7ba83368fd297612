"""A throwaway certificate authority: the fake tenant's TLS certificate, and the app's own
client certificate (PEM and PFX) for certificate sign-in. Made fresh for every test run."""

from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class Materials:
    ca_file: Path  # trust this (REQUESTS_CA_BUNDLE)
    server_cert: Path
    server_key: Path
    client_pem: Path  # private key + certificate, for --certificate
    client_pfx: Path  # the same as PKCS#12, password in `pfx_password`
    client_cert: x509.Certificate
    pfx_password: str


def make(directory: Path) -> Materials:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    later = now + dt.timedelta(days=2)
    ca_key = _key()
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("m365-mail-auditor test CA"))
        .issuer_name(_name("m365-mail-auditor test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = _key()
    server = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    client_key = _key()
    client = (
        x509.CertificateBuilder()
        .subject_name(_name("m365-mail-auditor app"))
        .issuer_name(_name("m365-mail-auditor app"))
        .public_key(client_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(later)
        .sign(client_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    files = {
        "ca.pem": ca.public_bytes(pem),
        "server.pem": server.public_bytes(pem),
        "server.key": _pem_key(server_key),
        "app.pem": _pem_key(client_key) + client.public_bytes(pem),
    }
    for name, content in files.items():
        (directory / name).write_bytes(content)
        (directory / name).chmod(0o600)
    password = "pfx-pass-" + ca.serial_number.to_bytes(20, "big").hex()[:12]
    pfx = pkcs12.serialize_key_and_certificates(
        b"app",
        client_key,
        client,
        None,
        serialization.BestAvailableEncryption(password.encode()),
    )
    (directory / "app.pfx").write_bytes(pfx)
    return Materials(
        ca_file=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_pem=directory / "app.pem",
        client_pfx=directory / "app.pfx",
        client_cert=client,
        pfx_password=password,
    )
