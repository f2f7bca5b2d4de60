"""A real kube-apiserver for the chart tests that apply what the chart renders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client as k8s
from support.kube import KubeAPIServer, running_apiserver
from support.paths import require_tool


@pytest.fixture(scope="module")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPIServer]:
    apiserver = require_tool("kube-apiserver")
    etcd = require_tool("etcd")
    with running_apiserver(apiserver, etcd, tmp_path_factory.mktemp("kube")) as server:
        yield server


@pytest.fixture(scope="module")
def kube_client(kube_apiserver: KubeAPIServer) -> Iterator[k8s.ApiClient]:
    with kube_apiserver.api_client() as api:
        yield api
