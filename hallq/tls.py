"""A hall's own certificate authority: TLS for its broker (MQTT over TLS) and its server (HTTPS) on the LAN.

A hall LAN has no public names, so a public CA cannot certify it; the hall
makes its own (``hallq tls``): a CA certificate that every device of the hall
trusts (copied to boards, kiosks and the gateway machine), and one
certificate for the hall's server machine, naming the addresses the devices
use to reach it. The broker and the server present that certificate; every
client verifies it against the hall's CA (hostname included).

Files, in ``<data dir>/tls/``: ``ca.crt`` (give it to the devices), ``ca.key``
(keep it; 0600), ``server.crt`` and ``server.key`` (0600). The CA lasts ten
years, the server certificate two; ``hallq tls --renew`` makes a new server
certificate with the same CA, so the devices need nothing new.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

CA_YEARS = 10
SERVER_YEARS = 2


@dataclass(frozen=True)
class TlsFiles:
    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key"

    @property
    def cert(self) -> Path:
        return self.folder / "server.crt"

    @property
    def key(self) -> Path:
        return self.folder / "server.key"

    def ready(self) -> bool:
        return self.ca.exists() and self.cert.exists() and self.key.exists()


def files(data_dir: Path) -> TlsFiles:
    return TlsFiles(Path(data_dir) / "tls")


def default_hosts() -> list[str]:
    """What a server certificate names unless told: this machine's name, localhost and the loopback addresses."""
    return sorted({socket.gethostname(), "localhost", "127.0.0.1", "::1"})


def _write_key(path: Path, key) -> None:
    from cryptography.hazmat.primitives import serialization

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(path, 0o600)


def _name(common: str, hall: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, hall[:64]),
                      x509.NameAttribute(NameOID.COMMON_NAME, common[:64])])


def init(data_dir: Path, hall_name: str, hosts: list[str] | None = None, renew: bool = False) -> tuple[TlsFiles, bool]:
    """Make the hall's CA (once) and its server certificate (once, or again with ``renew``).

    Returns the files and whether a server certificate was made now.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    f = files(data_dir)
    f.folder.mkdir(parents=True, exist_ok=True)
    os.chmod(f.folder, 0o700)
    now = dt.datetime.now(dt.timezone.utc)
    if not f.ca.exists():
        key = ec.generate_private_key(ec.SECP256R1())
        name = _name(f"{hall_name} hallq CA", hall_name)
        ca = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
              .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=365 * CA_YEARS))
              .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
              .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                           content_commitment=False, key_encipherment=False, data_encipherment=False,
                                           key_agreement=False, encipher_only=False, decipher_only=False),
                             critical=True)
              .sign(key, hashes.SHA256()))
        _write_key(f.ca_key, key)
        f.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        renew = True
    if f.cert.exists() and not renew:
        return f, False
    ca_key = serialization.load_pem_private_key(f.ca_key.read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate(f.ca.read_bytes())
    hosts = hosts or default_hosts()
    names: list = []
    for h in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            names.append(x509.DNSName(h))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name(hosts[0], hall_name)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=365 * SERVER_YEARS))
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_key(f.key, key)
    f.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return f, True


def names_in(cert_path: Path) -> list[str]:
    """The host names and addresses a certificate is good for (for ``hallq tls`` to print)."""
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(Path(cert_path).read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(v) for v in san.get_values_for_type(x509.DNSName)] + \
        [str(v) for v in san.get_values_for_type(x509.IPAddress)]
