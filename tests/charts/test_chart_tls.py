"""TLS between the API server and the webhook: Helm-generated, cert-manager, or a given URL."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from support.helm_chart import (
    CHART,
    WEBHOOK_TEMPLATES,
    ci_values,
    of_kind,
    only,
    pod_spec,
    render,
    render_webhook_configurations,
)

CERT_MANAGER = ci_values(CHART / "ci" / "cert-manager-values.yaml")
WEBHOOK_CONFIGURATIONS = ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")


def _hooks(rendered: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    return [h for kind in WEBHOOK_CONFIGURATIONS for h in only(rendered, kind)["webhooks"]]


def _pem(data: dict[str, str], key: str) -> bytes:
    return base64.b64decode(data[key])


# --- tls.mode=helm ----------------------------------------------------------------------


def test_helm_signs_a_serving_certificate_for_the_services_dns_names() -> None:
    rendered = render(namespace="policy")
    secret = only(rendered, "Secret")
    assert secret["type"] == "kubernetes.io/tls"
    ca = x509.load_pem_x509_certificate(_pem(secret["data"], "ca.crt"))
    cert = x509.load_pem_x509_certificate(_pem(secret["data"], "tls.crt"))

    ca_key = ca.public_key()
    assert isinstance(ca_key, rsa.RSAPublicKey)
    assert cert.signature_hash_algorithm is not None
    ca_key.verify(
        cert.signature,
        cert.tbs_certificate_bytes,
        padding.PKCS1v15(),
        cert.signature_hash_algorithm,
    )
    service = only(rendered, "Service")["metadata"]["name"]
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {
        service,
        f"{service}.policy",
        f"{service}.policy.svc",
        f"{service}.policy.svc.cluster.local",
    }
    assert secret["metadata"]["name"] in {
        s["secret"]["name"]
        for v in pod_spec(rendered)["volumes"]
        for s in v.get("projected", {}).get("sources", [])
        if "secret" in s
    }


def test_helm_fills_every_caBundle_with_the_ca_that_signed_the_certificate() -> None:
    rendered = render()
    secret = only(rendered, "Secret")
    assert secret["data"]["ca-bundle.crt"] == secret["data"]["ca.crt"]  # a fresh install: one CA
    for hook in _hooks(rendered):
        assert hook["clientConfig"]["caBundle"] == secret["data"]["ca-bundle.crt"], hook["name"]
    assert not any("annotations" in only(rendered, k)["metadata"] for k in WEBHOOK_CONFIGURATIONS)


def test_helm_records_the_expiry_and_rolls_the_pods_on_a_new_certificate() -> None:
    rendered = render()
    secret = only(rendered, "Secret")
    cert = x509.load_pem_x509_certificate(_pem(secret["data"], "tls.crt"))
    recorded = int(secret["metadata"]["annotations"]["meshc.io/not-after"])
    assert abs(recorded - cert.not_valid_after_utc.timestamp()) < 300
    annotations = only(rendered, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["checksum/tls"] == hashlib.sha256(_pem(secret["data"], "tls.crt")).hexdigest()
    )


def test_helm_certificate_lifetime_follows_the_values() -> None:
    secret = only(render({"tls": {"helm": {"validityDays": 30}}}), "Secret")
    cert = x509.load_pem_x509_certificate(_pem(secret["data"], "tls.crt"))
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert 29 <= lifetime.days <= 30


# --- tls.mode=cert-manager ----------------------------------------------------------------


def test_cert_manager_mode_renders_no_secret_and_no_caBundle() -> None:
    rendered = render(CERT_MANAGER)
    assert of_kind(rendered, "Secret") == []
    for hook in _hooks(rendered):
        assert "caBundle" not in hook["clientConfig"], hook["name"]
    assert (
        "checksum/tls"
        not in only(rendered, "Deployment")["spec"]["template"]["metadata"]["annotations"]
    )


def test_cert_manager_injects_the_ca_of_the_serving_certificate() -> None:
    rendered = render(CERT_MANAGER, namespace="policy")
    certificates = {c["metadata"]["name"]: c for c in of_kind(rendered, "Certificate")}
    service = only(rendered, "Service")["metadata"]["name"]
    serving = certificates[service]
    for kind in WEBHOOK_CONFIGURATIONS:
        annotations = only(rendered, kind)["metadata"]["annotations"]
        assert annotations["cert-manager.io/inject-ca-from"] == f"policy/{service}"
    assert set(serving["spec"]["dnsNames"]) == {
        service,
        f"{service}.policy",
        f"{service}.policy.svc",
        f"{service}.policy.svc.cluster.local",
    }
    assert "server auth" in serving["spec"]["usages"]
    assert serving["spec"]["secretName"] == f"{service}-tls"


def test_cert_manager_issues_from_the_charts_own_ca_not_a_self_signed_leaf() -> None:
    rendered = render(CERT_MANAGER)
    issuers = {i["metadata"]["name"]: i for i in of_kind(rendered, "Issuer")}
    certificates = {c["metadata"]["name"]: c for c in of_kind(rendered, "Certificate")}
    for obj in [*issuers.values(), *certificates.values()]:
        assert obj["apiVersion"] == "cert-manager.io/v1"
        assert obj["metadata"]["namespace"] == "meshc-system"

    serving = certificates[only(rendered, "Service")["metadata"]["name"]]
    ca_issuer = issuers[serving["spec"]["issuerRef"]["name"]]
    assert serving["spec"]["issuerRef"]["kind"] == "Issuer"
    ca_certificate = next(
        c
        for c in certificates.values()
        if c["spec"]["secretName"] == ca_issuer["spec"]["ca"]["secretName"]
    )
    assert ca_certificate["spec"]["isCA"] is True
    root = issuers[ca_certificate["spec"]["issuerRef"]["name"]]
    assert root["spec"] == {"selfSigned": {}}
    for cert in certificates.values():
        assert set(cert["spec"]) >= {"secretName", "issuerRef", "duration", "privateKey"}
    assert serving["spec"]["renewBefore"] == "720h"


def test_cert_manager_can_use_an_existing_cluster_issuer() -> None:
    rendered = render(
        {
            "tls": {
                "mode": "cert-manager",
                "certManager": {"issuerRef": {"kind": "ClusterIssuer", "name": "corp-ca"}},
            }
        }
    )
    assert of_kind(rendered, "Issuer") == []
    (certificate,) = of_kind(rendered, "Certificate")
    assert certificate["spec"]["issuerRef"] == {
        "group": "cert-manager.io",
        "kind": "ClusterIssuer",
        "name": "corp-ca",
    }


# --- webhook.url ----------------------------------------------------------------------------


def test_a_url_replaces_the_service_in_every_webhook_entry() -> None:
    ca_pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    configurations = render_webhook_configurations("https://127.0.0.1:9443/", ca_pem)
    assert [c["kind"] for c in configurations] == list(WEBHOOK_CONFIGURATIONS)
    urls = {}
    for configuration in configurations:
        assert "annotations" not in configuration["metadata"]
        for hook in configuration["webhooks"]:
            assert "service" not in hook["clientConfig"]
            assert base64.b64decode(hook["clientConfig"]["caBundle"]) == ca_pem
            urls[hook["name"]] = hook["clientConfig"]["url"]
    assert urls == {
        "validate.meshc.io": "https://127.0.0.1:9443/validate",
        "validate-config.meshc.io": "https://127.0.0.1:9443/validate",
        "validate-delete.meshc.io": "https://127.0.0.1:9443/validate",
        "mutate-namespaces.meshc.io": "https://127.0.0.1:9443/mutate",
    }


def test_a_url_wins_over_cert_manager_injection() -> None:
    (validating, mutating) = render_webhook_configurations(
        "https://127.0.0.1:9443", b"pem", extra=CERT_MANAGER
    )
    assert "annotations" not in validating["metadata"] and "annotations" not in mutating["metadata"]


@pytest.mark.parametrize("template", WEBHOOK_TEMPLATES)
def test_each_webhook_configuration_is_its_own_template(template: str) -> None:
    (obj,) = render()[template]
    assert obj["kind"] in WEBHOOK_CONFIGURATIONS
