"""The upstream CRDs, installed once per session into the shared API server.

``kube_apiserver`` and ``kube_client`` come from tests/conftest.py (one server
per session, shared with tests/charts); installing the CRDs costs seconds
more, so it too happens once. Tests keep to their own namespaces and object
names.
"""

from __future__ import annotations

import pytest
from kubernetes import client as k8s

from support.apply import install_crds, upstream_crds
from support.paths import CRDS


@pytest.fixture(scope="session")
def installed_crds(kube_client: k8s.ApiClient) -> list[str]:
    """Every upstream CRD from shared/crds, Established; their names."""
    return install_crds(kube_client, upstream_crds(CRDS))
