"""Render charts/meshc with Helm's own engine (helm-python-sdk) and read the result.

``render_webhook_configurations`` is the `--show-only` of the two admission
registrations: end-to-end tests register a webhook running on 127.0.0.1 with
exactly the configurations the chart installs, pointed at ``webhook.url``.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

from support.paths import REPO

CHART = REPO / "charts" / "meshc"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
RELEASE = "meshc"
NAMESPACE = "meshc-system"
WEBHOOK_TEMPLATES = (
    "templates/webhook-validatingwebhookconfiguration.yaml",
    "templates/webhook-mutatingwebhookconfiguration.yaml",
)

Obj = dict[str, Any]


def ci_values(path: Path) -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return values


@functools.lru_cache(maxsize=64)
def _manifests(values_json: str, namespace: str, release: str) -> dict[str, str]:
    values = json.loads(values_json)
    with helm.Chart.load(CHART) as chart:
        manifests = chart.render(values, name=release, namespace=namespace, is_install=True)
        prefix = f"{chart.name}/"
    return {path.removeprefix(prefix): text for path, text in manifests.items()}


def manifests(
    values: Mapping[str, Any] | None = None,
    *,
    namespace: str = NAMESPACE,
    release: str = RELEASE,
) -> dict[str, str]:
    """Template path (``templates/x.yaml``) -> its rendered text, NOTES.txt included.

    Renders are cached per (values, namespace, release): Helm's key generation
    makes each render cost a noticeable fraction of a second.
    """
    return dict(_manifests(json.dumps(values, sort_keys=True), namespace, release))


def render(
    values: Mapping[str, Any] | None = None,
    *,
    namespace: str = NAMESPACE,
    release: str = RELEASE,
) -> dict[str, list[Obj]]:
    """Template path (``templates/x.yaml``) -> the objects it rendered.

    Raises ``helm.HelmError`` when Helm refuses the values or a template fails.
    """
    return {
        path: [d for d in yaml.safe_load_all(text) if d]
        for path, text in manifests(values, namespace=namespace, release=release).items()
        if not path.endswith("NOTES.txt")
    }


def notes(values: Mapping[str, Any] | None = None, *, namespace: str = NAMESPACE) -> str:
    return manifests(values, namespace=namespace)["templates/NOTES.txt"]


def objects(rendered: Mapping[str, list[Obj]]) -> list[Obj]:
    return [obj for docs in rendered.values() for obj in docs]


def only(rendered: Mapping[str, list[Obj]], kind: str) -> Obj:
    """The one object of ``kind``; fails when there is none or several."""
    found = [o for o in objects(rendered) if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, rendered {len(found)}"
    return found[0]


def of_kind(rendered: Mapping[str, list[Obj]], kind: str) -> list[Obj]:
    return [o for o in objects(rendered) if o["kind"] == kind]


def pod_spec(rendered: Mapping[str, list[Obj]]) -> Obj:
    spec: Obj = only(rendered, "Deployment")["spec"]["template"]["spec"]
    return spec


def all_containers(rendered: Mapping[str, list[Obj]]) -> Iterator[Obj]:
    spec = pod_spec(rendered)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def container(rendered: Mapping[str, list[Obj]], name: str) -> Obj:
    for c in all_containers(rendered):
        if c["name"] == name:
            return c
    raise AssertionError(f"no container {name!r} in the Deployment")


def args_of(c: Obj) -> dict[str, str]:
    """``--flag=value`` arguments as a mapping (flags without a value map to "")."""
    parsed = {}
    for arg in c.get("args", []):
        flag, _, value = str(arg).partition("=")
        parsed[flag] = value
    return parsed


def render_webhook_configurations(
    url: str, ca_pem: bytes, *, namespace: str = NAMESPACE, extra: Mapping[str, Any] | None = None
) -> list[Obj]:
    """The ValidatingWebhookConfiguration and MutatingWebhookConfiguration, calling ``url``."""
    values: dict[str, Any] = {
        "webhook": {"url": url, "caBundle": base64.b64encode(ca_pem).decode("ascii")},
        **(extra or {}),
    }
    rendered = render(values, namespace=namespace)
    return [obj for path in WEBHOOK_TEMPLATES for obj in rendered.get(path, [])]
