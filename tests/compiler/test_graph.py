"""`meshc graph`: the mesh as Mermaid, DOT and SVG, for every example."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from meshc.cli import main
from meshc.compiler.graph import diff_graphs, mesh_graph
from meshc.compiler.graph.render import FORMATS
from meshc.compiler.loader import load_mesh
from support.examples import EXAMPLE_NAMES
from support.paths import EXAMPLES

SVG = "{http://www.w3.org/2000/svg}"
EXAMPLE_SPECS = [EXAMPLES / name / "mesh.yaml" for name in EXAMPLE_NAMES]


def graph_of(spec: Path, fmt: str) -> str:
    return FORMATS[fmt](mesh_graph(load_mesh(str(spec))))


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_the_svg_of_every_example_is_well_formed_and_shows_every_service(spec: Path) -> None:
    mesh = load_mesh(str(spec))
    root = ET.fromstring(graph_of(spec, "svg"))
    assert root.tag == f"{SVG}svg"
    titles = [t.text for t in root.iter(f"{SVG}title")]
    for svc in mesh.services:
        assert svc.name in titles
        for version in svc.versions:
            assert f"{svc.name} {version.name}" in titles
    for ns in mesh.namespaces:
        assert f"namespace {ns.name}" in titles


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_the_mermaid_of_every_example_has_a_subgraph_per_namespace_and_every_service(
    spec: Path,
) -> None:
    mesh = load_mesh(str(spec))
    text = graph_of(spec, "mermaid")
    assert text.startswith("flowchart LR\n")
    assert text.count("  subgraph ") == text.count("  end\n")
    for ns in mesh.namespaces:
        assert f'["namespace {ns.name}"]' in text
    for svc in mesh.services:
        assert re.search(rf'\["{re.escape(svc.name)}<br/>', text), svc.name


@pytest.mark.parametrize("spec", EXAMPLE_SPECS, ids=lambda p: p.parent.name)
def test_the_dot_of_every_example_has_a_cluster_per_namespace_and_every_service(
    spec: Path,
) -> None:
    mesh = load_mesh(str(spec))
    text = graph_of(spec, "dot")
    assert text.startswith(f'digraph "{mesh.name}" {{') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    for ns in mesh.namespaces:
        assert f'label="namespace {ns.name}";' in text
    for svc in mesh.services:
        assert f'label="{svc.name}\\n' in text


QUICKSTART = EXAMPLES / "quickstart" / "mesh.yaml"


def test_routes_carry_their_match_and_weight_and_allow_edges_their_ports() -> None:
    text = graph_of(EXAMPLES / "canary-ab" / "mesh.yaml", "mermaid")
    assert ('svc__shop__storefront -.->|"beta-testers: x-beta-tester = true 100%"| '
            "ver__shop__storefront__v2") in text  # fmt: skip
    assert '-.->|"new-checkout: path /checkout/v2* 100%"|' in text
    assert 'svc__shop__storefront -.->|"canary: default 80%"| ver__shop__storefront__v1' in text
    assert 'all__shop -->|"port 80"| svc__shop__storefront' in text
    assert 'sa__shop__checkout_worker -->|"any port"| svc__shop__storefront' in text


def test_a_service_without_allow_rules_is_open_to_any_meshed_workload() -> None:
    text = graph_of(EXAMPLES / "multi-namespace" / "mesh.yaml", "mermaid")
    assert 'anyone -->|"any port"| svc__frontend__web' in text
    # A caller namespace outside the services' own gets a group of its own.
    assert 'all__frontend -->|"port 8080"| svc__orders__orders' in text


def test_labels_are_escaped_in_every_format() -> None:
    spec = (EXAMPLES / "canary-ab" / "mesh.yaml").read_text()
    spec = spec.replace('x-beta-tester: {exact: "true"}', 'x-beta-tester: {regex: "a\\"<b>&"}')
    assert "<b>" in spec
    mesh = load_mesh("mesh.yaml", text=spec)
    graph = mesh_graph(mesh)
    assert "#quot;#lt;b#gt;#amp;" in FORMATS["mermaid"](graph)
    assert '\\"<b>&' in FORMATS["dot"](graph)
    ET.fromstring(FORMATS["svg"](graph))  # well-formed with <, > and & in a label


def test_a_diff_graph_marks_what_was_added_and_removed() -> None:
    old = mesh_graph(load_mesh(str(QUICKSTART)))
    new_text = QUICKSTART.read_text().replace("split: {v1: 90, v2: 10}", "split: {v1: 80, v2: 20}")
    new = mesh_graph(load_mesh("mesh.yaml", text=new_text))
    merged = diff_graphs(old, new, only_changes=True)
    changes = sorted((e.change, e.label) for e in merged.edges)
    assert changes == [
        ("added", "route 1: default 20%"), ("added", "route 1: default 80%"),
        ("removed", "route 1: default 10%"), ("removed", "route 1: default 90%"),
    ]  # fmt: skip
    text = FORMATS["mermaid"](merged)
    assert '-.->|"+ route 1: default 80%"|' in text
    assert "linkStyle 0,1 stroke:#1a7f37" in text and "linkStyle 2,3 stroke:#cf222e" in text


@pytest.mark.parametrize("fmt", ["mermaid", "dot", "svg"])
def test_meshc_graph_writes_each_format_to_stdout_or_a_file(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["graph", "--spec", str(QUICKSTART), "--format", fmt]) == 0
    printed = capsys.readouterr().out
    out = tmp_path / f"mesh.{fmt}"
    assert main(["graph", "-s", str(QUICKSTART), "--format", fmt, "-o", str(out)]) == 0
    assert out.read_text() == printed
    assert main(["graph", "-s", str(QUICKSTART), "--format", fmt, "-o", "-"]) == 0
    assert capsys.readouterr().out == printed


def test_svg_without_grandalf_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "grandalf", None)
    assert main(["graph", "-s", str(QUICKSTART), "--format", "svg"]) == 2
    assert capsys.readouterr().err == (
        "meshc graph: SVG output needs grandalf: pip install 'meshc[graph]'\n"
    )
