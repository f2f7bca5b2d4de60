"""The generated corpus meshc and its peers judge: workload manifests, half of them compliant.

Every object is a realistic workload in ``mesh-demo``, the namespace the
quickstart spec (examples/quickstart/mesh.yaml) meshes: a Deployment, and
every tenth a StatefulSet, every twentieth a CronJob (whose pod template sits
one level deeper). Each object is written to a file of its own.

Two rule sets, two corpora:

- ``one``: only the injection opt-out decides. Compliant objects carry no
  setting, ``sidecar.istio.io/inject`` at an injecting value in any case, or
  the label injecting while the (deprecated) annotation opts out, since the
  label wins; violating ones opt out by the label, by the annotation alone,
  or by the label while the annotation injects.
- ``full``: every violating object breaks exactly one rule of :data:`RULES`
  (the rules the ports cover, bench/peers/README.md), and compliant
  objects carry the look-alikes each rule must let through (an empty
  exclusion list, a capability that is not a network one, ``hostPID``
  without a capability that could use it, ...).

:func:`expected` is what every tool must find: the set of
``(rule, kind, name)`` it reports. Pods for admission come from
bench/reviews.py (the injected Pod, compliant under every rule).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

NAMESPACE = "mesh-demo"
INJECT = "sidecar.istio.io/inject"

# The rules of the full set's ports, in the order violating objects cycle through them.
RULES = (
    "opt-out",
    "interception-mode",
    "host-network",
    "capture-annotation",
    "proxy-uid",
    "proxy-gid",
    "net-capability",
    "privileged",
    "pod-proxy-uid",
    "mesh-container-image",
    "host-pid-capability",
    "tls-mode",
)


@dataclass(frozen=True)
class Item:
    """One generated object, and the rules it breaks (empty when compliant)."""

    index: int
    obj: dict[str, Any]
    breaks: tuple[str, ...]

    @property
    def kind(self) -> str:
        return str(self.obj["kind"])

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def file_name(self) -> str:
        return f"{self.index:05d}-{self.kind.lower()}-{self.name}.yaml"


def _container(i: int) -> dict[str, Any]:
    return {
        "name": "app",
        "image": f"registry.example.com/shop/app-{i % 7}:1.{i % 13}.{i % 5}",
        "args": ["--listen=:8080", "--log-level=info"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [
            {"name": "APP_NAME", "value": f"app-{i:05d}"},
            {
                "name": "POD_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
            {"name": "LOG_FORMAT", "value": "json"},
        ],
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"cpu": "500m", "memory": "256Mi"},
        },
        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 10},
        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 20},
        "securityContext": {
            "runAsUser": 1000,
            "runAsGroup": 1000,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _template(i: int) -> dict[str, Any]:
    return {
        "metadata": {
            "labels": {"app": f"app-{i:05d}", "version": "v1"},
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
        },
        "spec": {
            "serviceAccountName": f"app-{i:05d}",
            "securityContext": {"runAsNonRoot": True, "fsGroup": 2000},
            "containers": [_container(i)],
            "volumes": [{"name": "tmp", "emptyDir": {}}],
        },
    }


def workload(i: int) -> dict[str, Any]:
    """The compliant workload number ``i``."""
    name = f"app-{i:05d}"
    meta = {"name": name, "namespace": NAMESPACE, "labels": {"app": name, "team": f"team-{i % 9}"}}
    template = _template(i)
    selector = {"matchLabels": {"app": name}}
    if i % 20 == 19:
        return {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": meta,
            "spec": {
                "schedule": "*/15 * * * *",
                "jobTemplate": {
                    "spec": {
                        "template": {
                            **template,
                            "spec": {**template["spec"], "restartPolicy": "OnFailure"},
                        }
                    }
                },
            },
        }
    if i % 10 == 9:
        return {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta,
            "spec": {
                "serviceName": name,
                "replicas": 2,
                "selector": selector,
                "template": template,
            },
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {"replicas": 2, "selector": selector, "template": template},
    }


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]  # type: ignore[no-any-return]
    return obj["spec"]["template"]  # type: ignore[no-any-return]


# --- the one-rule corpus -----------------------------------------------------------------

# (label, annotation, opts out): eight shapes, the first four compliant.
OPT_OUT_SHAPES: tuple[tuple[str | None, str | None, bool], ...] = (
    (None, None, False),
    ("true", None, False),
    (None, "Yes", False),
    ("TRUE", "false", False),  # the label wins
    ("false", None, True),
    (None, "false", True),
    ("disabled", None, True),
    ("false", "true", True),  # the label wins
)


def one_rule_item(i: int) -> Item:
    obj = workload(i)
    label, annotation, opts_out = OPT_OUT_SHAPES[i % len(OPT_OUT_SHAPES)]
    meta = pod_template(obj)["metadata"]
    if label is not None:
        meta["labels"][INJECT] = label
    if annotation is not None:
        meta["annotations"][INJECT] = annotation
    return Item(i, obj, ("opt-out",) if opts_out else ())


# --- the full corpus ---------------------------------------------------------------------


def _app(obj: dict[str, Any]) -> dict[str, Any]:
    return pod_template(obj)["spec"]["containers"][0]  # type: ignore[no-any-return]


def _break(rule: str, obj: dict[str, Any], i: int) -> None:
    """Make ``obj`` break ``rule`` and nothing else."""
    tpl = pod_template(obj)
    spec, meta, app = tpl["spec"], tpl["metadata"], _app(obj)
    variant = (i // (2 * len(RULES))) % 2
    if rule == "opt-out":
        meta["labels"][INJECT] = ("false", "disabled")[variant]
    elif rule == "interception-mode":
        meta["annotations"]["sidecar.istio.io/interceptionMode"] = ("NONE", "none")[variant]
    elif rule == "host-network":
        spec["hostNetwork"] = True
    elif rule == "capture-annotation":
        key, value = (
            ("traffic.sidecar.istio.io/excludeOutboundPorts", "5432"),
            ("traffic.sidecar.istio.io/includeInboundPorts", "8080"),
        )[variant]
        meta["annotations"][key] = value
    elif rule == "proxy-uid":
        app["securityContext"]["runAsUser"] = 1337
    elif rule == "proxy-gid":
        app["securityContext"]["runAsGroup"] = 1337
    elif rule == "net-capability":
        app["securityContext"]["capabilities"]["add"] = [("NET_ADMIN", "net_raw")[variant]]
    elif rule == "privileged":
        app["securityContext"]["privileged"] = True
        app["securityContext"]["allowPrivilegeEscalation"] = True
    elif rule == "pod-proxy-uid":
        spec["securityContext"]["runAsUser"] = 1337
        del app["securityContext"]["runAsUser"]
    elif rule == "mesh-container-image":
        name = ("istio-proxy", "istio-validation")[variant]
        spec["containers"].append({"name": name, "image": "registry.example.com/proxy:1"})
    elif rule == "host-pid-capability":
        spec["hostPID"] = True
        app["securityContext"]["capabilities"]["add"] = [("SYS_PTRACE", "CAP_SYS_ADMIN")[variant]]
    elif rule == "tls-mode":
        meta["labels"]["security.istio.io/tlsMode"] = ("disabled", "")[variant]
    else:
        raise ValueError(rule)


def _look_alike(obj: dict[str, Any], i: int) -> None:
    """Compliant settings close to a rule (each compliant object gets one)."""
    tpl = pod_template(obj)
    spec, meta, app = tpl["spec"], tpl["metadata"], _app(obj)
    shape = (i // 2) % 8
    if shape == 0:
        meta["labels"][INJECT] = "true"
    elif shape == 1:
        meta["annotations"]["sidecar.istio.io/interceptionMode"] = "TPROXY"
    elif shape == 2:
        meta["annotations"]["traffic.sidecar.istio.io/excludeOutboundPorts"] = " , "
        meta["annotations"]["traffic.sidecar.istio.io/includeInboundPorts"] = "*"
    elif shape == 3:
        app["securityContext"]["capabilities"]["add"] = ["NET_BIND_SERVICE"]
    elif shape == 4:
        spec["hostPID"] = True
    elif shape == 5:
        spec["securityContext"]["runAsUser"] = 1337  # every container sets its own
    elif shape == 6:
        meta["labels"]["security.istio.io/tlsMode"] = "istio"
    elif shape == 7:
        app["securityContext"]["privileged"] = False


def full_item(i: int) -> Item:
    obj = workload(i)
    if i % 2 == 0:
        _look_alike(obj, i)
        return Item(i, obj, ())
    rule = RULES[(i // 2) % len(RULES)]
    _break(rule, obj, i)
    return Item(i, obj, (rule,))


# --- writing and expectations -------------------------------------------------------------

RULE_SETS = ("one", "full")


def items(rule_set: str, count: int) -> Iterator[Item]:
    make = {"one": one_rule_item, "full": full_item}[rule_set]
    return (make(i) for i in range(count))


def write(rule_set: str, count: int, directory: Path) -> list[Item]:
    """``count`` objects of ``rule_set``'s corpus, one file each, in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = list(items(rule_set, count))
    for item in written:
        (directory / item.file_name).write_text(
            yaml.safe_dump(item.obj, sort_keys=False, default_flow_style=False)
        )
    return written


Finding = tuple[str, str, str]  # (rule, kind, name)


def expected(written: list[Item]) -> set[Finding]:
    return {(rule, item.kind, item.name) for item in written for rule in item.breaks}
