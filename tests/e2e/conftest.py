"""The upstream CRDs, installed once per session into the shared API server.

``kube_apiserver`` and ``kube_client`` come from tests/conftest.py (one server
per session, shared with tests/charts); installing the CRDs costs seconds
more, so it too happens once. Tests keep to their own namespaces and object
names.

``linkerd_kube_client`` is a second API server, started when a test asks for
it, whose Gateway API CRDs are the ones Linkerd's installer bundles (v1.1.1,
experimental): the cluster Linkerd's objects are meant for, which serves the
TLSRoute v1alpha2 that Linkerd reads and the standard channel no longer does.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s

from support.apply import install_crds, upstream_crds
from support.paths import CRDS


@pytest.fixture(scope="session")
def installed_crds(kube_client: k8s.ApiClient) -> list[str]:
    """Every upstream CRD from shared/crds, Established; their names."""
    return install_crds(kube_client, upstream_crds(CRDS))


@pytest.fixture(scope="session")
def linkerd_kube_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[k8s.ApiClient]:
    """An API server with the CRDs a Linkerd installation brings (its bundled Gateway API)."""
    from support.kube import running_apiserver
    from support.paths import require_tool

    apiserver, etcd = require_tool("kube-apiserver"), require_tool("etcd")
    workdir = tmp_path_factory.mktemp("kube-linkerd")
    with running_apiserver(apiserver, etcd, workdir) as server, server.api_client() as api:
        install_crds(api, upstream_crds(CRDS, bundle="linkerd"))
        yield api
