from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# tests/support is imported as `support` by every test module.
sys.path.insert(0, str(Path(__file__).parent))

if TYPE_CHECKING:
    from kubernetes import client as k8s

    from support.kube import KubeAPIServer


@pytest.fixture(scope="session", autouse=True)
def module_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The wasm engine's compiled-module cache: one for the session, not the user's own.

    Set in the environment, so servers and commands the tests start share it.
    """
    directory = tmp_path_factory.mktemp("xdg-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(directory))
        yield directory


# One real kube-apiserver (with etcd) per test session, shared by tests/charts
# and tests/e2e: starting one costs seconds. Tests keep to their own
# namespaces and object names. The imports are local so that test runs that
# never ask for the server do not load the Kubernetes client.


@pytest.fixture(scope="session")
def kube_apiserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeAPIServer]:
    from support.kube import running_apiserver
    from support.paths import require_tool

    apiserver = require_tool("kube-apiserver")
    etcd = require_tool("etcd")
    with running_apiserver(apiserver, etcd, tmp_path_factory.mktemp("kube")) as server:
        yield server


@pytest.fixture(scope="session")
def kube_client(kube_apiserver: KubeAPIServer) -> Iterator[k8s.ApiClient]:
    with kube_apiserver.api_client() as api:
        yield api
