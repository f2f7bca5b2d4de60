from __future__ import annotations

from typing import Any

import pytest

from meshc.policies.engine import PolicyEngine, create_engine
from support.policy_samples import data_for


@pytest.fixture(scope="session")
def istio_data() -> dict[str, Any]:
    return data_for("istio")


@pytest.fixture(scope="session")
def linkerd_data() -> dict[str, Any]:
    return data_for("linkerd")


@pytest.fixture(scope="session")
def kuma_data() -> dict[str, Any]:
    return data_for("kuma")


@pytest.fixture(scope="session")
def istio_engine(istio_data: dict[str, Any]) -> PolicyEngine:
    return create_engine("embedded", istio_data)


@pytest.fixture(scope="session")
def linkerd_engine(linkerd_data: dict[str, Any]) -> PolicyEngine:
    return create_engine("embedded", linkerd_data)


@pytest.fixture(scope="session")
def kuma_engine(kuma_data: dict[str, Any]) -> PolicyEngine:
    return create_engine("embedded", kuma_data)


@pytest.fixture(scope="session")
def consul_data() -> dict[str, Any]:
    return data_for("consul")


@pytest.fixture(scope="session")
def consul_engine(consul_data: dict[str, Any]) -> PolicyEngine:
    return create_engine("embedded", consul_data)
