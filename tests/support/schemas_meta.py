"""The ``metadata`` rules the Kubernetes API server enforces in Go, which no OpenAPI schema states.

Names, namespaces, label keys and values, and annotation keys follow
k8s.io/apimachinery/pkg/api/validation (ValidateObjectMeta) and the per-kind name validators.
The schema only says that labels are a map of strings; these rules say which strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

Problem = tuple[tuple[str | int, ...], str]

_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL = re.compile(_LABEL)
_DNS1123_SUBDOMAIN = re.compile(rf"{_LABEL}(\.{_LABEL})*")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_QUALIFIED_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
_ANNOTATIONS_MAX_BYTES = 256 * 1024

_SUBDOMAIN = "a lowercase RFC 1123 subdomain (a-z, 0-9, '-' and '.', alphanumeric at both ends)"
_RFC1123_LABEL = "a lowercase RFC 1123 label (a-z, 0-9 and '-', alphanumeric at both ends)"
_RFC1035_LABEL = (
    "an RFC 1035 label (a-z, 0-9 and '-', starting with a letter, alphanumeric at the end)"
)
_NAME_PART = "a qualified name (A-Z, a-z, 0-9, '-', '_' and '.', alphanumeric at both ends)"
_VALUE = (
    "a valid label value (empty, or A-Z, a-z, 0-9, '-', '_' and '.', alphanumeric at both ends)"
)

# Built-in kinds without a namespace (kubectl api-resources --namespaced=false); everything else
# built in is namespaced. Custom resources say so in their CRD's spec.scope.
_CLUSTER_SCOPED = frozenset({
    ("", "Namespace"), ("", "Node"), ("", "PersistentVolume"), ("", "ComponentStatus"),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    ("apiregistration.k8s.io", "APIService"),
    ("authentication.k8s.io", "TokenReview"), ("authentication.k8s.io", "SelfSubjectReview"),
    ("authorization.k8s.io", "SubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectAccessReview"),
    ("authorization.k8s.io", "SelfSubjectRulesReview"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("internal.apiserver.k8s.io", "StorageVersion"),
    ("networking.k8s.io", "IngressClass"), ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("resource.k8s.io", "DeviceClass"), ("resource.k8s.io", "ResourceSlice"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "CSIDriver"), ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "StorageClass"), ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("storagemigration.k8s.io", "StorageVersionMigration"),
})  # fmt: skip


def cluster_scoped(group: str, kind: str) -> bool:
    """Whether a built-in kind lives outside namespaces."""
    return (group, kind) in _CLUSTER_SCOPED


def metadata_errors(
    obj: Mapping[str, Any], *, group: str, kind: str, namespaced: bool
) -> Iterator[Problem]:
    """(path, message) for each metadata rule ``obj`` breaks.

    Wrong types are left to the schema, which reports them already.
    """
    meta = obj.get("metadata")
    if meta is None:
        yield ("metadata",), "required field is missing"
        return
    if not isinstance(meta, Mapping):
        return
    # GitOps tools apply by name, so a generateName alone is not enough here.
    name = meta.get("name")
    if not name:
        yield ("metadata", "name"), "required field is missing"
    elif isinstance(name, str) and (problem := _name_problem(group, kind, name)):
        yield ("metadata", "name"), problem

    namespace = meta.get("namespace")
    if namespaced and not namespace:
        yield ("metadata", "namespace"), f"required field is missing: {kind} is namespaced"
    elif not namespaced and namespace:
        yield ("metadata", "namespace"), f"must not be set: {kind} is cluster-scoped"
    elif isinstance(namespace, str) and (
        problem := _syntax(namespace, _DNS1123_LABEL, 63, _RFC1123_LABEL)
    ):
        yield ("metadata", "namespace"), problem

    yield from _map_problems(meta.get("labels"), "labels", check_values=True)
    yield from _map_problems(meta.get("annotations"), "annotations", check_values=False)


def _map_problems(entries: Any, field: str, *, check_values: bool) -> Iterator[Problem]:
    if not isinstance(entries, Mapping):
        return
    size = 0
    for key, value in entries.items():
        if not isinstance(key, str):
            yield ("metadata", field), f"key {key!r} is not a string"
            continue
        # Annotation keys are checked case-insensitively; label keys as written.
        if problem := _key_problem(key if check_values else key.lower()):
            yield ("metadata", field, key), f"invalid key: {problem}"
        if not isinstance(value, str):
            continue
        size += len(key.encode()) + len(value.encode())
        if check_values and (problem := _syntax(value, _LABEL_VALUE, 63, _VALUE)):
            yield ("metadata", field, key), problem
    if not check_values and size > _ANNOTATIONS_MAX_BYTES:
        yield ("metadata", field), f"total size {size} bytes exceeds {_ANNOTATIONS_MAX_BYTES}"


def _name_problem(group: str, kind: str, name: str) -> str | None:
    if (group, kind) == ("", "Namespace"):
        return _syntax(name, _DNS1123_LABEL, 63, _RFC1123_LABEL)
    if (group, kind) == ("", "Service"):
        return _syntax(name, _DNS1035_LABEL, 63, _RFC1035_LABEL)
    if group == "rbac.authorization.k8s.io":
        # RBAC names are path segments: "system:controller:foo" is fine.
        if name in (".", ".."):
            return f"{name!r} may not be '.' or '..'"
        bad = [c for c in "/%" if c in name]
        return f"{name!r} may not contain {bad[0]!r}" if bad else None
    return _syntax(name, _DNS1123_SUBDOMAIN, 253, _SUBDOMAIN)


def _key_problem(key: str) -> str | None:
    """Label and annotation keys: an optional DNS subdomain prefix, '/', and a qualified name."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return f"{key!r} has an empty prefix before '/'"
    if prefix and (problem := _syntax(prefix, _DNS1123_SUBDOMAIN, 253, _SUBDOMAIN)):
        return f"prefix {problem}"
    return _syntax(name, _QUALIFIED_NAME, 63, _NAME_PART)


def _syntax(value: str, pattern: re.Pattern[str], max_length: int, what: str) -> str | None:
    if len(value) > max_length:
        return f"{value[:20]!r}... is {len(value)} characters long, more than {max_length}"
    if not pattern.fullmatch(value):
        return f"{value!r} is not {what}"
    return None
