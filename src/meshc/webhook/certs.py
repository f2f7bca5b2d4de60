"""``meshc certs generate``: a CA and a serving certificate for the webhook.

The API server verifies the webhook against ``caBundle`` and the Service DNS
name it dials (``<service>.<namespace>.svc``), so the serving certificate
carries every form of that name. Files are written atomically so a server
watching them for rotation never reads half a key.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from meshc.atomicfile import write_atomic
from meshc.compiler.schema import DNS1123_LABEL
from meshc.exitcodes import ExitCode, UsageError

# Back-dated so a node whose clock lags a little still accepts the certificate.
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Bundle:
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes

    @property
    def ca_bundle(self) -> str:
        """The ``caBundle`` field of a webhook configuration: base64 of the CA PEM."""
        return base64.b64encode(self.ca_pem).decode("ascii")


def service_names(service: str, namespace: str) -> list[str]:
    return [
        service,
        f"{service}.{namespace}",
        f"{service}.{namespace}.svc",
        f"{service}.{namespace}.svc.cluster.local",
    ]


def _san(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


def _key() -> ec.EllipticCurvePrivateKey:
    # P-256: as safe as RSA 3072 with a much cheaper TLS handshake.
    return ec.generate_private_key(ec.SECP256R1())


def generate(service: str, namespace: str, extra_sans: list[str], days: int = 365) -> Bundle:
    now = dt.datetime.now(dt.UTC) - CLOCK_SKEW
    until = now + dt.timedelta(days=days)

    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"meshc-webhook-ca {namespace}")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
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
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    key = _key()
    names = service_names(service, namespace)
    sans = list(dict.fromkeys([*names, *extra_sans]))  # ordered, without duplicates
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([_san(s) for s in sans]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    return Bundle(
        ca_pem=ca_cert.public_bytes(pem),
        cert_pem=cert.public_bytes(pem),
        # PKCS#8: the one key format every TLS server we may run under reads.
        key_pem=key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
    )


def write_bundle(bundle: Bundle, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "ca.crt", bundle.ca_pem)
    # The key first and the certificate last: a watcher keyed on tls.crt then
    # always finds the matching key already in place.
    write_atomic(out / "tls.key", bundle.key_pem, mode=0o600)
    write_atomic(out / "tls.crt", bundle.cert_pem)


_DNS_LABEL = re.compile(DNS1123_LABEL)
# A DNS name (labels of letters, digits and '-', a leading "*." allowed).
_DNS_NAME = re.compile(
    r"^(\*\.)?([A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?\.)*[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?$"
)


def problems(args: argparse.Namespace) -> list[str]:
    """What is wrong with the arguments: names a certificate could not carry."""
    found = []
    for flag, value in (("--service", args.service), ("--namespace", args.namespace)):
        if not _DNS_LABEL.match(value) or len(value) > 63:
            found.append(f"{flag} {value!r} is not a DNS-1123 label, as Kubernetes names are")
    for san in args.extra_san:
        if not isinstance(_san(san), x509.IPAddress) and not _DNS_NAME.match(san):
            found.append(f"--extra-san {san!r} is neither an IP address nor a DNS name")
    return found


def run(args: argparse.Namespace) -> ExitCode:
    found = problems(args)
    if found:
        raise UsageError(*found)
    bundle = generate(args.service, args.namespace, list(args.extra_san), days=args.days)
    out = Path(args.output)
    try:
        write_bundle(bundle, out)
    except OSError as exc:
        raise UsageError(f"cannot write to {str(out)!r}: {exc}") from None
    print(bundle.ca_bundle)
    return ExitCode.OK
