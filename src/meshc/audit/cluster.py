"""A read of a live API server: which judged kinds it serves, and their objects, page by page.

The Kubernetes Python client is imported here only (the ``cluster`` extra:
``pip install 'meshc[cluster]'``): it reads kubeconfig files as kubectl does
(contexts, client certificates, exec and auth-provider plugins) and the
in-cluster service account, which is what ``meshc audit`` needs from it.
Objects are read as plain JSON, never through the client's typed models,
which would drop fields they do not know and cost most of the time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Self

from meshc.policies.judged import stored_resources

# Objects per list request: the API server's own pagination, so a large
# cluster is read in bounded pieces (kubectl uses 500).
PAGE_SIZE = 500
REQUEST_TIMEOUT_SECONDS = 60
INSTALL_HINT = "pip install 'meshc[cluster]'"


class ClusterError(Exception):
    """The API server could not be reached, refused a request, or answered nonsense."""


@dataclass(frozen=True)
class Resource:
    """A served kind the policies judge."""

    group: str
    version: str
    resource: str  # plural, as in the REST path
    kind: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def label(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if namespace and self.namespaced:
            base += f"/namespaces/{namespace}"
        base += f"/{self.resource}"
        return f"{base}/{name}" if name else base


def _client_module() -> Any:
    try:
        import kubernetes
    except ImportError:
        raise ClusterError(
            f"talking to a cluster needs the Kubernetes client: {INSTALL_HINT}"
        ) from None
    return kubernetes


def connect(kubeconfig: str | None = None, context: str | None = None) -> Cluster:
    """A :class:`Cluster` from ``kubeconfig`` (else ``$KUBECONFIG`` or ~/.kube/config, else the
    in-cluster service account), as kubectl finds its configuration."""
    kubernetes = _client_module()
    configuration = kubernetes.client.Configuration()
    in_cluster = (
        kubeconfig is None
        and not os.environ.get("KUBECONFIG")
        and not os.path.exists(os.path.expanduser("~/.kube/config"))
        and os.environ.get("KUBERNETES_SERVICE_HOST")
    )
    try:
        if in_cluster:
            kubernetes.config.load_incluster_config(client_configuration=configuration)
        else:
            kubernetes.config.load_kube_config(
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
    except (kubernetes.config.ConfigException, OSError, ValueError) as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterError(f"cannot load the cluster configuration from {where}: {exc}") from None
    return Cluster(kubernetes.client.ApiClient(configuration))


class Cluster:
    """Requests to one API server, answered as decoded JSON."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.host = str(api.configuration.host)

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
    ) -> tuple[int, dict[str, Any]]:
        """(status, decoded body); :class:`ClusterError` when the server cannot be reached."""
        import urllib3

        _method, url, headers, _body, _post = self.api.param_serialize(
            method,
            path,
            query_params=list((query or {}).items()),
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self.api.call_api(
                _method, url, headers, body=body, _request_timeout=REQUEST_TIMEOUT_SECONDS
            )
            response.read()
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise ClusterError(
                f"cannot reach the API server at {self.host}: {_reason(exc)}"
            ) from None
        try:
            data = json.loads(response.data) if response.data else {}
        except ValueError:
            text = bytes(response.data or b"").decode(errors="replace").strip()
            data = {"message": text[:200]}
        if not isinstance(data, dict):
            data = {"message": str(data)[:200]}
        return int(response.status), data

    def get(self, path: str, query: Mapping[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        return self.request("GET", path, query=query)

    def judged_resources(self) -> tuple[list[Resource], list[str]]:
        """The served kinds the policies judge, and the API groups this server does not serve."""
        found: list[Resource] = []
        missing: list[str] = []
        for group, names in stored_resources():
            served = self.group_resources(group)
            if served is None:
                missing.append(group)
                continue
            found += [r for r in served if "*" in names or r.resource in names]
        return found, missing

    def group_resources(self, group: str) -> list[Resource] | None:
        if group:
            status, data = self.get(f"/apis/{group}")
            if status == 404:
                return None
            _require(status, data, f"the API group {group}")
            version = str((data.get("preferredVersion") or {}).get("version", ""))
            if not version:
                return None
            path = f"/apis/{group}/{version}"
        else:
            version, path = "v1", "/api/v1"
        status, data = self.get(path)
        _require(status, data, f"the resources of {path}")
        return [
            Resource(group, version, str(r["name"]), str(r["kind"]), bool(r.get("namespaced")))
            for r in data.get("resources") or ()
            if "/" not in str(r.get("name", "")) and "list" in (r.get("verbs") or ())
        ]

    def list_objects(
        self, resource: Resource, namespace: str | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[list[dict[str, Any]]]:
        """Every object of ``resource`` (in ``namespace``, or everywhere), one page at a time.

        Items come back without apiVersion and kind; they are filled in, so
        each object reads as it would in a manifest.
        """
        path = resource.path(namespace)
        query = {"limit": str(page_size)}
        while True:
            status, data = self.get(path, query)
            where = f" in namespace {namespace}" if namespace and resource.namespaced else ""
            _require(status, data, f"{resource.label}{where}", verb="list")
            items = data.get("items") or []
            for item in items:
                item["apiVersion"] = resource.api_version
                item["kind"] = resource.kind
            yield items
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                return
            query = {"limit": str(page_size), "continue": str(token)}


def _require(status: int, data: Mapping[str, Any], what: str, verb: str = "read") -> None:
    if status == 200:
        return
    message = str(data.get("message") or data.get("reason") or "no message")
    if status in (401, 403):
        raise ClusterError(f"the API server refused to {verb} {what}: {status} {message}")
    raise ClusterError(f"cannot {verb} {what}: the API server answered {status}: {message}")


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    while isinstance(reason, BaseException) and getattr(reason, "reason", None) is not None:
        reason = getattr(reason, "reason", None)
    text = str(reason or exc)
    # urllib3 wraps the socket error in its connection's repr; the errno says what happened.
    errno_at = text.find("[Errno")
    return text[errno_at:] if errno_at >= 0 else text
