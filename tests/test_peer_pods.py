"""Gatekeeper's ports judge a Pod itself, as meshc does: Pods are what bench/peers/admission.py sends.

The corpus (bench/peers/peer_corpus.py) holds workloads only, so here each of
its objects becomes the Pod its template creates, breaking the same rule; and
the Pod Istio's injector leaves (bench/reviews.py) must be allowed under every
rule: its init and proxy containers run as the proxy, with NET_ADMIN and
NET_RAW, on the mesh's image, as the mesh needs. Like tests/test_peer_policies.py,
a peer is checked only where bench/peers/build.sh has built it.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.paths import REPO

sys.path.insert(0, str(REPO / "bench" / "peers"))
sys.path.insert(0, str(REPO / "bench"))

import peer_corpus as corpus
from peer_tools import TOOLS, Tool

import reviews
from bench_peers import equivalent

# As many objects as tests/test_peer_policies.py: every shape of each rule set.
OBJECTS = 96

GATEKEEPER = [tool for tool in TOOLS if tool.binary == "gator"]


def as_pod(item: corpus.Item) -> corpus.Item:
    """The Pod ``item``'s template creates, named after the workload."""
    template = corpus.pod_template(item.obj)
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template["metadata"], "name": item.name, "namespace": corpus.NAMESPACE},
        "spec": template["spec"],
    }
    return corpus.Item(item.index, pod, item.breaks)


def write(items: list[corpus.Item], directory: Path) -> None:
    for item in items:
        (directory / item.file_name).write_text(yaml.safe_dump(item.obj, sort_keys=False))


@pytest.mark.parametrize("rule_set", corpus.RULE_SETS)
@pytest.mark.parametrize("tool", GATEKEEPER, ids=lambda t: t.name)
def test_gatekeeper_judges_pods_as_it_judges_their_templates(
    tool: Tool, rule_set: str, tmp_path: Path
) -> None:
    why = tool.available(rule_set)
    if why:
        pytest.skip(why)
    pods = [as_pod(item) for item in corpus.items(rule_set, OBJECTS)]
    injected = corpus.Item(OBJECTS, reviews.pod(random.Random(0)), ())
    write([*pods, injected], tmp_path)
    assert equivalent(tool, rule_set, tmp_path, [*pods, injected]) == ""
