"""``meshc certs generate``: what the API server needs to trust and reach the webhook."""

from __future__ import annotations

import base64
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from meshc.cli import main as meshc


@pytest.fixture
def generated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    code = meshc(
        [
            "certs",
            "generate",
            "--service",
            "meshc-webhook",
            "--namespace",
            "meshc-system",
            "--output",
            str(tmp_path / "tls"),
            "--extra-san",
            "127.0.0.1",
            "--extra-san",
            "webhook.example.test",
        ]
    )
    assert code == 0
    return tmp_path / "tls", capsys.readouterr().out


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_the_serving_certificate_names_the_service_in_every_form_plus_extras(
    generated: tuple[Path, str],
) -> None:
    out, _ = generated
    san = (
        load(out / "tls.crt").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    assert san.get_values_for_type(x509.DNSName) == [
        "meshc-webhook",
        "meshc-webhook.meshc-system",
        "meshc-webhook.meshc-system.svc",
        "meshc-webhook.meshc-system.svc.cluster.local",
        "webhook.example.test",
    ]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]


def test_the_ca_signed_the_serving_certificate(generated: tuple[Path, str]) -> None:
    out, _ = generated
    ca, cert = load(out / "ca.crt"), load(out / "tls.crt")
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.SERVER_AUTH in usage


def test_the_key_is_p256_pkcs8_and_private_to_its_owner(generated: tuple[Path, str]) -> None:
    out, _ = generated
    pem = (out / "tls.key").read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    public = load(out / "tls.crt").public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"


def test_it_prints_the_ca_bundle_for_the_webhook_configuration(generated: tuple[Path, str]) -> None:
    out, printed = generated
    assert base64.b64decode(printed.strip()) == (out / "ca.crt").read_bytes()


def test_regenerating_replaces_every_file_and_leaves_no_temporaries(tmp_path: Path) -> None:
    args = ["certs", "generate", "--service", "s", "--namespace", "n", "--output", str(tmp_path)]
    assert meshc(args) == 0
    first = (tmp_path / "tls.crt").read_bytes()
    assert meshc(args) == 0
    assert (tmp_path / "tls.crt").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]


def test_an_unwritable_destination_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = meshc(
        ["certs", "generate", "--service", "s", "--namespace", "n", "--output", str(blocker / "x")]
    )
    assert code == 2
    assert "cannot write to" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--service", "Web Hook"], "--service 'Web Hook' is not a DNS-1123 label"),
        (["--namespace", "meshc_system"], "--namespace 'meshc_system' is not a DNS-1123 label"),
        (["--extra-san", "not a name!"], "--extra-san 'not a name!' is neither an IP address"),
        (["--days", "0"], "argument --days: must be at least 1, got 0"),
    ],
)
def test_names_a_certificate_cannot_carry_are_usage_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], complaint: str
) -> None:
    base = {"--service": "meshc-webhook", "--namespace": "meshc-system"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["certs", "generate", "--output", str(tmp_path / "tls")]
    for flag, value in base.items():
        argv += [flag, value]
    assert meshc(argv) == 2
    assert complaint in capsys.readouterr().err
    assert not (tmp_path / "tls").exists()
