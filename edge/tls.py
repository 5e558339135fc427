"""The store's own certificate authority, its server certificate, and the server's TLS context.

`edge tls init` makes a per-store CA and a server certificate signed by it; tills and kiosks
trust the CA (`store-ca.crt`), so HTTPS and MQTT over TLS verify without warnings and without a
public CA (store LANs have no public names). Keys are EC P-256: every TLS stack the store meets
(Chromium, OpenSSL, Mosquitto, Python, paho) speaks ECDSA, a P-256 handshake costs a Raspberry
Pi a fraction of an RSA-2048 one, and the keys and certificates are small. Functions here build
certificates and write files with safe modes; they never print.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import socket
import ssl
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT = "ca.pem"
CA_KEY = "ca.key"
SERVER_CERT = "server.pem"  # the server certificate followed by the CA (the chain)
SERVER_KEY = "server.key"
TRUST_BUNDLE = "store-ca.crt"  # what tills and kiosks install: the CA certificate only
CA_DAYS = 3650
SERVER_DAYS = 730
MAX_DAYS = 3650
BACKDATE = timedelta(hours=1)  # a client whose clock is a little behind still accepts it
PRIVATE, PUBLIC, DIRECTORY = 0o600, 0o644, 0o750

_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


class TlsError(Exception):
    """A certificate, key or TLS directory that cannot be used, and why."""

    def __init__(self, message: str, field: str = "") -> None:
        """Keep the message and the setting it concerns (cert, key or ca; '' for none)."""
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Names:
    """What a server certificate names: DNS host names and IP addresses."""

    hosts: tuple[str, ...]
    ips: tuple[str, ...]

    def merged(self, other: Names) -> Names:
        """Return these names followed by the other's new ones."""
        return Names(_unique((*self.hosts, *other.hosts)), _unique((*self.ips, *other.ips)))


@dataclass(frozen=True)
class CertInfo:
    """What a technician wants to see of a certificate."""

    subject: str
    issuer: str
    names: Names
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256, colon-separated hex
    is_ca: bool

    def days_left(self, now: datetime) -> int:
        """Return whole days until it expires (negative once expired)."""
        return (self.not_after - now).days


@dataclass(frozen=True)
class Issued:
    """What `init_store_tls` did."""

    directory: Path
    ca: CertInfo
    server: CertInfo
    new_ca: bool


def tls_paths(directory: Path) -> dict[str, Path]:
    """Return the files of a TLS directory by name."""
    return {
        name: directory / name for name in (CA_CERT, CA_KEY, SERVER_CERT, SERVER_KEY, TRUST_BUNDLE)
    }


def check_host(name: str) -> str:
    """Return a DNS host name in its certificate form; raise TlsError if it is not one."""
    host = name.strip().rstrip(".").lower()
    if not host or len(host) > 253 or not all(_LABEL.match(p) for p in host.split(".")):
        raise TlsError(
            f"{name!r} is not a host name (letters, digits, '-' and dots; "
            "write international names in their xn-- form)"
        )
    return host


def check_ip(text: str) -> str:
    """Return an IP address in its normal form; raise TlsError if it is not one."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise TlsError(f"{text!r} is not an IP address") from None


def default_names(hosts: Sequence[str] = (), ips: Sequence[str] = ()) -> Names:
    """Return this machine's names (hostname, hostname.local, localhost, 127.0.0.1) plus more."""
    machine = socket.gethostname().strip().rstrip(".").lower()
    short = machine.split(".")[0]
    found: list[str] = []
    for candidate in (machine, f"{short}.local", "localhost"):
        with contextlib.suppress(TlsError):
            found.append(check_host(candidate))
    given = [check_host(h) for h in hosts]
    return Names(_unique((*found, *given)), _unique(("127.0.0.1", *(check_ip(a) for a in ips))))


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    """Return items without repeats, in their first order."""
    return tuple(dict.fromkeys(items))


_USAGES = (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only",
)  # fmt: skip


def _key_usage(*allowed: str) -> x509.KeyUsage:
    """Return a keyUsage extension that allows only the named uses."""
    return x509.KeyUsage(**{usage: usage in allowed for usage in _USAGES})


def new_key() -> ec.EllipticCurvePrivateKey:
    """Return a new EC P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def make_ca(
    store_id: str, key: SigningKey, *, now: datetime, days: int = CA_DAYS
) -> x509.Certificate:
    """Return the store's self-signed CA certificate (may sign server certificates only)."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "store-edge"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"store-edge CA {store_id}"),
        ]
    )
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage("key_cert_sign", "crl_sign"), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def make_server_cert(
    ca_key: SigningKey,
    ca_cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    names: Names,
    *,
    now: datetime,
    days: int = SERVER_DAYS,
) -> x509.Certificate:
    """Return a server certificate for `names`, signed by the CA (never outliving it)."""
    if not names.hosts and not names.ips:
        raise TlsError("a server certificate needs at least one host name or IP address")
    common = names.hosts[0] if names.hosts else names.ips[0]
    alternatives: list[x509.GeneralName] = [x509.DNSName(h) for h in names.hosts]
    alternatives += [x509.IPAddress(ipaddress.ip_address(a)) for a in names.ips]
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(min(now + timedelta(days=days), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage("digital_signature"), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def init_store_tls(
    directory: Path,
    store_id: str,
    names: Names,
    *,
    days: int = SERVER_DAYS,
    force: bool = False,
    renew: bool = False,
    now: datetime | None = None,
) -> Issued:
    """Make the CA (unless renewing) and a server certificate in `directory`; raise TlsError.

    Without `force` nothing is replaced: an existing CA is refused unless `renew` asks for a
    new server certificate from it (keeping the current certificate's names, plus `names`).
    `force` makes a new CA, which every till must then trust again.
    """
    if not 1 <= days <= MAX_DAYS:
        raise TlsError(f"--days must be between 1 and {MAX_DAYS}, got {days}")
    if force and renew:
        raise TlsError("--force (a new CA) and --renew (the same CA) exclude each other")
    now = now or datetime.now(UTC)
    paths = tls_paths(directory)
    if renew:
        ca_cert, ca_key = load_ca(directory)
        current = paths[SERVER_CERT]
        if current.is_file():
            with contextlib.suppress(TlsError):
                names = names_of(read_certs(current)[0]).merged(names)
        new_ca = False
    else:
        existing = [p.name for p in paths.values() if p.exists()]
        if existing and not force:
            raise TlsError(
                f"{directory} already holds {', '.join(existing)}: use --renew for a new server "
                "certificate from the same CA, or --force to replace the CA (every till and "
                "kiosk must then install the new store-ca.crt)"
            )
        ca_key = new_key()
        ca_cert = make_ca(store_id, ca_key, now=now)
        new_ca = True
    server_key = new_key()
    server_cert = make_server_cert(ca_key, ca_cert, server_key, names, now=now, days=days)
    directory.mkdir(mode=DIRECTORY, parents=True, exist_ok=True)
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    if new_ca:
        write_file(paths[CA_KEY], private_pem(ca_key), PRIVATE)
        write_file(paths[CA_CERT], ca_pem, PUBLIC)
    write_file(paths[SERVER_KEY], private_pem(server_key), PRIVATE)
    write_file(
        paths[SERVER_CERT], server_cert.public_bytes(serialization.Encoding.PEM) + ca_pem, PUBLIC
    )
    write_file(paths[TRUST_BUNDLE], ca_pem, PUBLIC)
    return Issued(directory, describe(ca_cert), describe(server_cert), new_ca)


def load_ca(directory: Path) -> tuple[x509.Certificate, SigningKey]:
    """Return the CA certificate and key of a TLS directory; raise TlsError."""
    paths = tls_paths(directory)
    if not paths[CA_CERT].is_file() or not paths[CA_KEY].is_file():
        raise TlsError(f"no CA in {directory} ({CA_CERT} and {CA_KEY}): run `edge tls init` first")
    ca_cert = read_certs(paths[CA_CERT], "ca")[0]
    ca_key = read_key(paths[CA_KEY], "ca")
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise TlsError(f"{paths[CA_KEY]} is neither an EC nor an RSA key", "ca")
    if not _same_key(ca_key, ca_cert):
        raise TlsError(f"{paths[CA_KEY]} is not the key of {paths[CA_CERT]}", "ca")
    return ca_cert, ca_key


def private_pem(key: SigningKey) -> bytes:
    """Return a private key as unencrypted PKCS#8 PEM."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` with `data` atomically; the file has `mode` from its first byte on."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    temporary = Path(name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_certs(path: Path, field: str = "cert") -> list[x509.Certificate]:
    """Return the PEM certificates in a file (at least one); raise TlsError."""
    data = _read(path, field)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise TlsError(f"{path} is not a PEM certificate file", field) from None
    return certs


def read_key(path: Path, field: str = "key") -> PrivateKeyTypes:
    """Return the unencrypted PEM private key in a file; raise TlsError."""
    data = _read(path, field)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise TlsError(f"{path} is not an unencrypted PEM private key", field) from None


def _read(path: Path, field: str) -> bytes:
    """Return a file's bytes; raise TlsError saying why it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise TlsError(f"{path} does not exist", field) from None
    except PermissionError:
        raise TlsError(
            f"cannot read {path}: permission denied (user id {os.geteuid()})", field
        ) from None
    except IsADirectoryError:
        raise TlsError(f"{path} is a directory, not a file", field) from None
    except OSError as err:
        raise TlsError(f"cannot read {path}: {err.strerror}", field) from None


def _same_key(key: PrivateKeyTypes, cert: x509.Certificate) -> bool:
    """Tell whether `key` is the private key of `cert`."""
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)


def check_server_files(cert: Path, key: Path) -> list[x509.Certificate]:
    """Check that the certificate chain and key are readable and belong together; raise TlsError."""
    chain = read_certs(cert, "cert")
    private = read_key(key, "key")
    if not _same_key(private, chain[0]):
        raise TlsError(
            f"{key} is not the private key of the certificate in {cert} (issue both again with "
            "`edge tls init --renew`, or correct the paths)",
            "key",
        )
    return chain


def check_ca_file(ca: Path) -> x509.Certificate:
    """Check that the CA file holds a certificate; raise TlsError."""
    return read_certs(ca, "ca")[0]


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """Return the HTTPS server's TLS context (TLS 1.2 or newer); raise TlsError."""
    check_server_files(cert, key)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as err:
        raise TlsError(f"{cert} with {key}: {err}", "cert") from err
    return context


def names_of(cert: x509.Certificate) -> Names:
    """Return the host names and IP addresses a certificate names."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return Names((), ())
    return Names(
        tuple(san.get_values_for_type(x509.DNSName)),
        tuple(str(a) for a in san.get_values_for_type(x509.IPAddress)),
    )


def describe(cert: x509.Certificate) -> CertInfo:
    """Return what `edge tls show` prints of a certificate."""
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        names=names_of(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
        is_ca=is_ca,
    )


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Tell whether `ca` issued and signed `cert`."""
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
