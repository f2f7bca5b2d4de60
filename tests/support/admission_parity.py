"""Every admission fixture the webhook is tested with, as a request to a real API server.

The fixtures are AdmissionReviews (or plain manifests) judged by the engines
directly: the policy samples (tests/policies/samples), the bypass corpus
(tests/hardening/corpus.py) and the injected pods of tests/policies/test_outcome.py.
:func:`all_cases` turns each into what a client sends: a CREATE, UPDATE or
DELETE of the object, through its subresource if it has one, as the
fixture's user. :class:`Cluster` puts in place what each request needs
first (namespaces, service accounts, the object an UPDATE or DELETE finds
stored) with no admission registered, then sends every request as a dry run,
so nothing it sends changes what the next one finds, and admission can be
swapped (the webhook, the native policies, both) and the same requests sent
again.

An object whose name no policy reads is renamed (``case-<n>``), so that the
stored objects of different fixtures never meet. Names that matter stay: a
Namespace's, and a security object's that meshc marks as its own (the
managed-objects policy looks it up in what the spec renders); fixtures that
need different stored versions of one such object go in different rounds.
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

from meshc.policies.violations import EXCEPTION_HINT
from support.kube import KubeAPIServer
from support.policy_samples import sample_files, spec_for

Obj = dict[str, Any]

# Server-set metadata a client never sends.
SERVER_FIELDS = (
    "uid",
    "creationTimestamp",
    "managedFields",
    "resourceVersion",
    "generation",
    "selfLink",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
)
MANAGED_BY = "app.kubernetes.io/managed-by"
ADMIN_GROUP = "system:masters"


@dataclass(frozen=True)
class Case:
    """One admission request: what is sent, what is stored before it, and by whom."""

    id: str
    provider: str  # whose sample spec judges it
    operation: str  # CREATE | UPDATE | DELETE
    kind: Mapping[str, str]  # group, version, kind of the request
    namespace: str  # "" for a cluster-scoped object
    obj: Obj | None  # what is sent (CREATE, UPDATE)
    old: Obj | None  # what is stored before (UPDATE, DELETE)
    subresource: str = ""
    user: str = ""  # "" for the admin

    @property
    def api_version(self) -> str:
        g, v = self.kind.get("group", ""), self.kind["version"]
        return f"{g}/{v}" if g else v

    @property
    def name(self) -> str:
        for o in (self.obj, self.old):
            if o and o.get("metadata", {}).get("name"):
                return str(o["metadata"]["name"])
        return ""


def _clean(obj: Obj | None, api_version: str, kind: str, namespace: str) -> Obj | None:
    """``obj`` as a client writes it: no server-set metadata, its apiVersion, kind and namespace."""
    if obj is None:
        return None
    out = copy.deepcopy(obj)
    out["apiVersion"], out["kind"] = api_version, kind
    meta = out.setdefault("metadata", {})
    for key in SERVER_FIELDS:
        meta.pop(key, None)
    if namespace:
        meta["namespace"] = namespace
    return out


def from_review(case_id: str, provider: str, review: Mapping[str, Any]) -> Case:
    request = review["request"]
    kind = request["kind"]
    api_version = f"{kind['group']}/{kind['version']}" if kind.get("group") else kind["version"]
    namespace = request.get("namespace") or ""
    operation = request["operation"]
    obj = _clean(request.get("object"), api_version, kind["kind"], namespace)
    old = _clean(request.get("oldObject"), api_version, kind["kind"], namespace)
    if operation == "UPDATE" and old is None:
        old = copy.deepcopy(obj)
    return Case(
        id=case_id,
        provider=provider,
        operation=operation,
        kind=kind,
        namespace=namespace,
        obj=obj if operation != "DELETE" else None,
        old=old if operation != "CREATE" else None,
        subresource=request.get("subResource") or "",
        user=(request.get("userInfo") or {}).get("username", ""),
    )


def from_manifest(case_id: str, provider: str, obj: Obj) -> Case:
    group, _, version = obj["apiVersion"].rpartition("/")
    namespace = obj.get("metadata", {}).get("namespace", "")
    if obj["kind"] != "Namespace" and not namespace:
        namespace = "default"
    return Case(
        case_id,
        provider,
        "CREATE",
        {"group": group, "version": version, "kind": obj["kind"]},
        namespace,
        _clean(obj, obj["apiVersion"], obj["kind"], namespace),
        None,
    )


def sample_cases() -> Iterator[Case]:
    root = sample_files()[0].parents[2]
    for path in sample_files():
        provider = spec_for(path).stem
        for i, doc in enumerate(d for d in yaml.safe_load_all(path.read_text()) if d):
            case_id = f"sample:{path.relative_to(root)}#{i}"
            if doc.get("kind") == "AdmissionReview":
                yield from_review(case_id, provider, doc)
            else:
                yield from_manifest(case_id, provider, doc)


def corpus_cases() -> Iterator[Case]:
    from hardening.corpus import BYPASSES, LOOKALIKES

    for prefix, cases in (("bypass", BYPASSES), ("lookalike", LOOKALIKES)):
        for case in cases:
            yield from_review(f"{prefix}:{case.name}", case.provider, case.review)


def outcome_cases() -> Iterator[Case]:
    """test_outcome.py's injected pods: as injected, each weakening, each harmless variant,
    each debug container and status update."""
    from policies import test_outcome as t

    def provider(path: Path) -> str:
        return path.name.partition("-")[0]

    for path in t.INJECTED:
        yield from_review(f"outcome:{path.stem}", provider(path), t.load(path))
    for param in [*t.cases(t.ISTIO, t.ISTIO_DENIED), *t.cases(t.LINKERD, t.LINKERD_DENIED)]:
        path, mutation, _ = param.values
        yield from_review(f"outcome:{param.id}", provider(path), t.mutated(path, mutation))
    for path in t.INJECTED:
        for name, mutation in t.COMPLIANT.items():
            yield from_review(
                f"outcome:{path.stem}-{name}", provider(path), t.mutated(path, mutation)
            )
        for name, security in (
            ("netadmin", {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}),
            ("istio-uid", {"runAsUser": 1337}),
            ("linkerd-uid", {"runAsUser": 2102}),
            (
                "restricted",
                {
                    "allowPrivilegeEscalation": False,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
            ),
        ):

            def debug(pod: dict[str, Any], security: Mapping[str, Any] = security) -> None:
                pod["spec"]["ephemeralContainers"] = [
                    {**t.DEBUG, "securityContext": dict(security)}
                ]

            review = t.subresource_update(path, debug, "ephemeralcontainers")
            yield from_review(f"outcome:{path.stem}-debug-{name}", provider(path), review)
    # A status update of a pod that predates the mesh, and an inbound policy
    # written through the status subresource.
    unmeshed = t.mutated(t.ISTIO[0], t.both(t.remove("istio-proxy"), t.remove("istio-init")))
    review = t.subresource_update(
        t.ISTIO[0], lambda p: p.update(status={"phase": "Running"}), "status"
    )
    review["request"]["object"] = {**unmeshed["request"]["object"], "status": {"phase": "Running"}}
    review["request"]["oldObject"] = unmeshed["request"]["object"]
    yield from_review("outcome:status-of-a-pod-that-predates-the-mesh", "istio", review)
    native = next(p for p in t.LINKERD if "native" in p.name)

    def annotate(pod: dict[str, Any]) -> None:
        pod["metadata"]["annotations"]["config.linkerd.io/default-inbound-policy"] = (
            "all-unauthenticated"
        )

    yield from_review(
        "outcome:inbound-policy-through-status",
        "linkerd",
        t.subresource_update(native, annotate, "status"),
    )
    # The exemption the Istio sample spec grants, to its workload and to another.
    base = t.SAMPLES / "injection-required" / "allowed" / "istio-injected-native-sidecar.yaml"

    def legacy(pod: dict[str, Any]) -> None:
        pod["metadata"]["labels"]["app"] = "legacy"
        pod["metadata"]["annotations"]["traffic.sidecar.istio.io/excludeOutboundIPRanges"] = (
            "10.0.0.0/8"
        )
        t.set_flag(t.capture(pod)["args"], "-x", "10.0.0.0/8")

    granted = t.mutated(base, legacy)
    yield from_review("outcome:exemption-granted", "istio", granted)
    other = copy.deepcopy(granted)
    other["request"]["object"]["metadata"]["labels"]["app"] = "web"
    yield from_review("outcome:exemption-to-another-workload", "istio", other)


def all_cases() -> list[Case]:
    return [*sample_cases(), *corpus_cases(), *outcome_cases()]


# --- placing the cases -------------------------------------------------------------------


def _fixed_name(case: Case) -> bool:
    """Whether a policy reads this object's name (so it cannot be renamed)."""
    if case.kind["kind"] == "Namespace":
        return True
    labels = ((case.old or {}).get("metadata") or {}).get("labels") or {}
    return MANAGED_BY in labels


def _renamed(case: Case, index: int) -> Case:
    if _fixed_name(case) or case.operation == "CREATE":
        return case
    name = f"case-{index}"
    objs = []
    for o in (case.obj, case.old):
        if o is not None:
            o = copy.deepcopy(o)
            o["metadata"]["name"] = name
            o["metadata"].pop("generateName", None)
        objs.append(o)
    return Case(
        case.id,
        case.provider,
        case.operation,
        case.kind,
        case.namespace,
        objs[0],
        objs[1],
        case.subresource,
        case.user,
    )


def _key(case: Case) -> tuple[str, str, str, str]:
    return (case.api_version, case.kind["kind"], case.namespace, case.name)


def rounds(cases: Iterable[Case]) -> list[list[Case]]:
    """The cases renamed and split so that each round stores one version of each object."""
    out: list[tuple[dict[tuple[str, str, str, str], str], list[Case]]] = []
    for index, case in enumerate(cases):
        case = _renamed(case, index)
        key = _key(case)
        want = (
            json.dumps(case.old, sort_keys=True)
            if case.old is not None and case.kind["kind"] != "Namespace"
            else None
        )
        for stored, members in out:
            if want is None or stored.get(key, want) == want:
                if want is not None:
                    stored[key] = want
                members.append(case)
                break
        else:
            out.append(({key: want} if want is not None else {}, [case]))
    return [members for _, members in out]


# --- the API server ------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the API server answered: allowed, denied (by admission), invalid, or error."""

    verdict: str
    status: int
    message: str = ""

    @property
    def lines(self) -> list[str]:
        """The meshc findings in a denial, one per line, without the API server's prefix."""
        text = self.message.split("denied the request: ", 1)[-1].split("denied request: ", 1)[-1]
        # The webhook puts each finding on a line; the API server takes a native
        # policy's message only on one line, where findings are joined with " | ".
        parts = re.split(r"\n| \| (?=\[meshc:)", text)
        return [part.strip() for part in parts if part.strip().startswith("[meshc:")]

    @property
    def findings(self) -> list[str]:
        """:attr:`lines` without the exception the webhook suggests after each
        (meshc.policies.violations.EXCEPTION_HINT): the native policies apply no
        exceptions (docs/native.md), so their messages suggest none."""
        return [line.split(EXCEPTION_HINT, 1)[0] for line in self.lines]


@dataclass
class Cluster:
    """Requests to one API server as its admin, or as a user it impersonates."""

    server: KubeAPIServer
    _resources: dict[tuple[str, str], tuple[str, bool]] = field(default_factory=dict)
    _versions: dict[tuple[str, str, str, str], str] = field(default_factory=dict)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        user: str = "",
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.server.token}", "Content-Type": content_type}
        if user:
            headers["Impersonate-User"] = user
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        return requests.request(
            method,
            self.server.url + path,
            headers=headers,
            data=data,
            params=dict(query or {}),
            verify=str(self.server.ca_file),
            timeout=60,
        )

    def resource(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) from discovery."""
        key = (api_version, kind)
        if key not in self._resources:
            base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            deadline = time.monotonic() + 30
            while True:
                found = {
                    r["kind"]: (r["name"], r["namespaced"])
                    for r in self.call("GET", base).json().get("resources", [])
                    if "/" not in r["name"]
                }
                if kind in found or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            self._resources[key] = found[kind]
        return self._resources[key]

    def path(
        self, api_version: str, kind: str, namespace: str, name: str = "", subresource: str = ""
    ) -> str:
        plural, namespaced = self.resource(api_version, kind)
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        path = f"{base}/namespaces/{namespace}/{plural}" if namespaced else f"{base}/{plural}"
        return path + (f"/{name}" if name else "") + (f"/{subresource}" if subresource else "")

    # -- what the requests need ----------------------------------------------------------------

    def ensure(self, obj: Obj) -> None:
        """Create ``obj``, or leave the existing one (namespaces, service accounts)."""
        meta = obj["metadata"]
        r = self.call(
            "POST", self.path(obj["apiVersion"], obj["kind"], meta.get("namespace", "")), obj
        )
        assert r.status_code in (201, 409), (
            f"{obj['kind']} {meta['name']}: {r.status_code} {r.text}"
        )

    def replace(self, obj: Obj) -> str:
        """``obj`` stored exactly (deleted first if it is there); its resourceVersion."""
        meta = obj["metadata"]
        collection = self.path(obj["apiVersion"], obj["kind"], meta.get("namespace", ""))
        if obj["kind"] != "Namespace":
            # No controllers run: nothing would remove a finalizer, so none is asked for.
            self.call(
                "DELETE",
                f"{collection}/{meta['name']}",
                query={"gracePeriodSeconds": "0", "propagationPolicy": "Background"},
            )
            deadline = time.monotonic() + 30
            while (current := self.call("GET", f"{collection}/{meta['name']}")).status_code == 200:
                if current.json()["metadata"].get("finalizers"):
                    self.call(
                        "PATCH",
                        f"{collection}/{meta['name']}",
                        {"metadata": {"finalizers": None}},
                        content_type="application/merge-patch+json",
                    )
                assert time.monotonic() < deadline, f"{meta['name']} was not deleted"
                time.sleep(0.1)
            r = self.call("POST", collection, obj)
        else:
            current = self.call("GET", f"{collection}/{meta['name']}")
            if current.status_code == 404:
                r = self.call("POST", collection, obj)
            else:
                r = self.call(
                    "PUT",
                    f"{collection}/{meta['name']}",
                    {
                        **obj,
                        "metadata": {
                            **meta,
                            "resourceVersion": current.json()["metadata"]["resourceVersion"],
                        },
                    },
                )
        assert r.status_code in (200, 201), (
            f"storing {obj['kind']} {meta['name']}: {r.status_code} {r.text}"
        )
        version: str = r.json()["metadata"]["resourceVersion"]
        return version

    def prepare(self, cases: list[Case], users: Iterable[str]) -> None:
        """Namespaces, service accounts, the users' rights, and the objects UPDATE and DELETE find.

        Run with no admission registered.
        """
        namespaces = {c.namespace for c in cases if c.namespace}
        namespaces |= {
            c.name for c in cases if c.kind["kind"] == "Namespace" and c.operation != "CREATE"
        }
        for ns in sorted(namespaces):
            self.ensure({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        accounts = {
            (c.namespace, account)
            for c in cases
            for o in (c.obj, c.old)
            if o
            for account in _service_accounts(o)
        }
        for ns in sorted(namespaces):
            accounts.add((ns, "default"))
        for ns, account in sorted(accounts):
            self.ensure(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": account, "namespace": ns},
                }
            )
        for user in sorted(set(users) - {""}):
            self.ensure(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "ClusterRoleBinding",
                    "metadata": {"name": "parity-" + user.replace(":", ".")},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": "cluster-admin",
                    },
                    "subjects": [
                        {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                    ],
                }
            )
        for case in cases:
            if case.old is not None and case.kind["kind"] != "Namespace":
                self._versions[_key(case)] = self.replace(case.old)
        for case in cases:
            if case.old is not None and case.kind["kind"] == "Namespace":
                self._versions[_key(case)] = self.replace(case.old)

    def send(self, case: Case) -> Outcome:
        """The case's request, as a dry run."""
        query = {"dryRun": "All"}
        api_version, kind = case.api_version, case.kind["kind"]
        if case.operation == "CREATE":
            assert case.obj is not None
            r = self.call(
                "POST",
                self.path(api_version, kind, case.namespace),
                case.obj,
                user=case.user,
                query=query,
            )
        elif case.operation == "UPDATE":
            # What changed, over what the API server stored (with its defaults),
            # as a client patches it: kubectl apply, edit and debug all do.
            assert case.obj is not None and case.old is not None
            r = self.call(
                "PATCH",
                self.path(api_version, kind, case.namespace, case.name, case.subresource),
                merge_patch(case.old, case.obj),
                user=case.user,
                query=query,
                content_type="application/merge-patch+json",
            )
        else:
            r = self.call(
                "DELETE",
                self.path(api_version, kind, case.namespace, case.name),
                user=case.user,
                query=query,
            )
        return classify(case, r)


def merge_patch(before: Any, after: Any) -> Any:
    """The JSON merge patch (RFC 7386) that turns ``before`` into ``after``."""
    if not isinstance(before, dict) or not isinstance(after, dict):
        return after
    patch: dict[str, Any] = {k: None for k in before if k not in after}
    for key, value in after.items():
        if key not in before:
            patch[key] = value
        elif before[key] != value:
            patch[key] = merge_patch(before[key], value)
    return patch


def classify(case: Case, response: requests.Response) -> Outcome:
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {"message": response.text}
    message = str(body.get("message", ""))
    if status in (200, 201, 202):
        return Outcome("allowed", status)
    if status == 409 and case.operation == "CREATE" and body.get("reason") == "AlreadyExists":
        # The name is taken: the store refused what admission had already let through.
        return Outcome("allowed", status, message)
    if status == 403 and ("admission webhook" in message or "ValidatingAdmissionPolicy" in message):
        return Outcome("denied", status, message)
    if status in (400, 422):
        return Outcome("invalid", status, message)
    return Outcome("error", status, message)


def _service_accounts(obj: Obj) -> set[str]:
    found = set()
    spec = obj.get("spec") or {}
    for pod in (
        spec,
        (spec.get("template") or {}).get("spec") or {},
        (((spec.get("jobTemplate") or {}).get("spec") or {}).get("template") or {}).get("spec")
        or {},
    ):
        for key in ("serviceAccountName", "serviceAccount"):
            if pod.get(key):
                found.add(str(pod[key]))
    return found
