"""Bypass resistance: every way out of the mesh in the corpus is denied, every look-alike allowed.

The corpus (corpus.py) is sent to the real server over HTTPS as the API
server would send it. The counts are the figures in docs/reliability.md;
the floors keep the corpus from shrinking unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from corpus import BYPASSES, LOOKALIKES, Case

from support.webhook_server import WebhookServer


@pytest.fixture(scope="module")
def session(servers: dict[str, WebhookServer]) -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s


def verdict(servers: dict[str, WebhookServer], session: requests.Session, case: Case) -> dict:  # type: ignore[type-arg]
    server = servers[case.provider]
    # verify= on each call: a session's own is overridden by REQUESTS_CA_BUNDLE.
    r = session.post(
        server.url + "/validate", json=case.review, timeout=30, verify=str(server.certs.ca)
    )
    assert r.status_code == 200, r.text
    response: dict = r.json()["response"]  # type: ignore[type-arg]
    assert response["uid"] == case.review["request"]["uid"]
    return response


@pytest.mark.parametrize("case", BYPASSES, ids=lambda c: c.name)
def test_each_bypass_is_denied_naming_a_policy(servers, session, case: Case) -> None:  # type: ignore[no-untyped-def]
    response = verdict(servers, session, case)
    assert response["allowed"] is False
    assert response["status"]["code"] == 403
    assert response["status"]["message"].startswith("[meshc:")
    assert (
        "[meshc:engine]" not in response["status"]["message"]
    )  # denied by a policy, not by failing


@pytest.mark.parametrize("case", LOOKALIKES, ids=lambda c: c.name)
def test_each_compliant_lookalike_is_allowed(servers, session, case: Case) -> None:  # type: ignore[no-untyped-def]
    response = verdict(servers, session, case)
    assert response["allowed"] is True, response.get("status")


def test_the_corpus_covers_every_category_the_issue_names() -> None:
    names = " ".join(c.name for c in BYPASSES)
    for must in (
        "inject=",
        "look-alike",
        "hostNetwork",
        "excludeOutboundIPRanges",
        "skip-subnets",
        "pod runAsUser 1337",
        "container runAsUser 1337",
        "NET_ADMIN",
        "Namespace UPDATE that strips",
        "DELETE of the STRICT",
        "portLevelMtls PERMISSIVE",
        "workload selector",
        "DestinationRule tls DISABLE at subset-port",
        "AuthorizationPolicy ALLOW from another namespace",
        "CronJob",
    ):
        assert must in names, must
    assert len(BYPASSES) >= 170 and len(LOOKALIKES) >= 100
    assert len({c.name for c in BYPASSES + LOOKALIKES}) == len(BYPASSES) + len(LOOKALIKES)
