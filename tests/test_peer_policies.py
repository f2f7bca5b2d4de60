"""The peers' ports of meshc's rules (bench/peers/) find exactly what meshc finds on the generated corpus.

bench/bench_peers.py times a tool only after it found exactly the expected
violations; this is that check on a corpus covering every shape of each rule
set (violations, and the compliant look-alikes each rule must let through).
meshc is always checked; a peer only where bench/peers/build.sh has built it
(never in CI: it takes minutes and gigabytes), and is reported as skipped,
with the reason, where it has not.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest
import yaml

from support.paths import REPO

sys.path.insert(0, str(REPO / "bench" / "peers"))
sys.path.insert(0, str(REPO / "bench"))

import peer_corpus as corpus
from peer_tools import TOOLS, Tool

import reviews
from bench_peers import equivalent

# Enough objects for every shape: the full set's 12 rules x 2 variants, the one
# rule's 8 shapes, CronJobs and StatefulSets among them.
OBJECTS = 96


@pytest.mark.parametrize("rule_set", corpus.RULE_SETS)
def test_the_corpus_is_half_compliant_and_covers_every_rule(rule_set: str) -> None:
    written = list(corpus.items(rule_set, OBJECTS))
    assert sum(1 for item in written if item.breaks) == OBJECTS // 2
    rules = {rule for item in written for rule in item.breaks}
    assert rules == ({"opt-out"} if rule_set == "one" else set(corpus.RULES))
    assert {item.kind for item in written} == {"Deployment", "StatefulSet", "CronJob"}


@pytest.mark.parametrize("rule_set", corpus.RULE_SETS)
@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.name)
def test_each_tool_finds_exactly_the_expected_violations(
    tool: Tool, rule_set: str, tmp_path: Path
) -> None:
    why = tool.available(rule_set)
    if why:
        pytest.skip(why)
    written = corpus.write(rule_set, OBJECTS, tmp_path)
    assert equivalent(tool, rule_set, tmp_path, written) == ""


# The ports that also judge a Pod itself, as meshc does: Pods are what the
# admission bench sends (bench/peers/admission.py). Every port of a peer with
# an admission server, in both rule sets.
POD_PORTS = tuple(
    (tool.name, rule_set)
    for tool in TOOLS
    if tool.binary in ("gator", "kyverno-cli")
    for rule_set in corpus.RULE_SETS
)


def as_pod(item: corpus.Item) -> corpus.Item:
    """The Pod the workload's controller would create from its template, breaking the same rules."""
    template = corpus.pod_template(item.obj)
    meta = {"name": item.name, "namespace": corpus.NAMESPACE, **template["metadata"]}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template["spec"]}
    return corpus.Item(item.index, pod, item.breaks)


@pytest.mark.parametrize(("name", "rule_set"), POD_PORTS)
def test_the_ports_for_admission_judge_pods_too(name: str, rule_set: str, tmp_path: Path) -> None:
    tool = next(t for t in TOOLS if t.name == name)
    why = tool.available(rule_set)
    if why:
        pytest.skip(why)
    pods = [as_pod(item) for item in corpus.items(rule_set, OBJECTS)]
    # The injected Pod the admission bench sends, compliant under every rule.
    injected = reviews.pod(random.Random(0))
    pods.append(corpus.Item(OBJECTS, injected, ()))
    for pod in pods:
        (tmp_path / pod.file_name).write_text(yaml.safe_dump(pod.obj, sort_keys=False))
    assert equivalent(tool, rule_set, tmp_path, pods) == ""
