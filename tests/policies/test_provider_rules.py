"""Each provider's Rego package implements the same interface, so the policies can dispatch to it.

The generic policies read ``data.meshc.providers[<provider>].<rule>``. A rule
a package leaves undefined does not read as an empty set to every engine
(OPA and rego-cpp disagree on ``not x in <undefined>`` through a dynamic
reference), so every package defines every rule, an empty one as ``set()``.
"""

from __future__ import annotations

import re

import pytest

from meshc import providers
from support.paths import REPO

REGO = REPO / "src" / "meshc" / "policies" / "rego"
INTERFACE = (
    "injection_findings",  # injection-required, for writes in meshed namespaces
    "mtls_findings",  # mtls-strict
    "allowed_namespaces_findings",  # allowed-namespaces
    "injection_requests",  # where a pod asks for injection: {path, value}
    "injector_written",  # capture-annotation keys the mesh's injector wrote on this pod
    "extra_proxy_uids",  # UIDs this pod's own settings exempt from capture
    "extra_proxy_gids",  # groups likewise
)


@pytest.mark.parametrize("provider", providers.names())
def test_every_provider_package_defines_the_whole_interface(provider: str) -> None:
    source = (REGO / f"{provider}.rego").read_text()
    assert re.search(rf"^package meshc\.providers\.{provider}$", source, re.MULTILINE)
    defined = set(re.findall(r"^([a-z_]+)(?: contains | := )", source, re.MULTILINE))
    assert set(INTERFACE) <= defined, f"{provider}.rego must define {set(INTERFACE) - defined}"


def test_no_provider_package_without_a_profile() -> None:
    packages = set(
        re.findall(
            r"^package meshc\.providers\.([a-z_]+)$",
            "\n".join(p.read_text() for p in REGO.glob("*.rego")),
            re.MULTILINE,
        )
    )
    assert packages == set(providers.names())
