"""A bad spec is rejected before rendering, with every problem, its line and field."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from support.specs import QUICKSTART, quickstart, write_spec


def problems_of(tmp_path: Path, text: str) -> list[str]:
    spec = write_spec(tmp_path, textwrap.dedent(text).lstrip())
    with pytest.raises(SpecError) as info:
        load_mesh(str(spec))
    return [p.format().replace(str(spec), "mesh.yaml") for p in info.value.problems]


def edited(tmp_path: Path, edit: Any) -> list[str]:
    data = quickstart()
    edit(data)
    spec = write_spec(tmp_path, data)
    with pytest.raises(SpecError) as info:
        load_mesh(str(spec))
    return [p.format().replace(str(spec), "mesh.yaml") for p in info.value.problems]


QUICKSTART_TEXT = QUICKSTART.read_text(encoding="utf-8")


def quickstart_with(old: str, new: str) -> str:
    assert old in QUICKSTART_TEXT
    return QUICKSTART_TEXT.replace(old, new, 1)


def test_the_quickstart_is_valid() -> None:
    mesh = load_mesh(str(QUICKSTART))
    assert mesh.provider == "istio"
    assert mesh.services[0].routes[0].split == (("v1", 90), ("v2", 10))
    assert mesh.admission.allowed_namespaces == ("mesh-demo",)


def test_weights_that_do_not_sum_to_100_name_file_line_and_field(tmp_path: Path) -> None:
    found = problems_of(tmp_path, quickstart_with("{v1: 90, v2: 10}", "{v1: 85, v2: 10}"))
    assert found == [
        "mesh.yaml:22:18: spec.services[0].routes[0].split: weights sum to 95, must be 100"
    ]


def test_unknown_field_suggests_the_close_one(tmp_path: Path) -> None:
    found = problems_of(tmp_path, quickstart_with("      retries:", "      retires:"))
    assert found == [
        "mesh.yaml:24:7: spec.services[0].retires: unknown field 'retires' (did you mean 'retries'?)"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = quickstart_with("{v1: 90, v2: 10}", "{v1: 90, v3: 10}")
    text = text.replace("timeout: 3s", "timeout: 3 seconds").replace(
        "targetPort: 5678", "targetPort: 99999"
    )
    found = problems_of(tmp_path, text)
    assert len(found) == 3
    assert any("spec.services[0].routes[0].split: names version 'v3'" in f for f in found)
    assert any("spec.services[0].timeout: '3 seconds' is not a duration" in f for f in found)
    assert any(
        "spec.services[0].ports[0].targetPort: 99999 must be a port number" in f for f in found
    )


def test_unknown_provider_is_an_error_never_a_default(tmp_path: Path) -> None:
    found = problems_of(tmp_path, quickstart_with("provider: istio", "provider: istoi"))
    assert found == [
        (
            "mesh.yaml:6:13: spec.provider: 'istoi' is not one of consul, istio, kuma, linkerd "
            "(did you mean 'istio'?)"
        )
    ]


@pytest.mark.parametrize(
    ("edit", "path", "message"),
    [
        (
            lambda d: d["spec"]["services"][0].update(timeout=3),
            "spec.services[0].timeout",
            "must be a string, got 3",
        ),
        (
            lambda d: d["spec"]["services"][0]["routes"].append({"split": {"v1": 100}}),
            "spec.services[0].routes[0]",
            "must be the last route",
        ),
        (
            lambda d: d["spec"]["services"][0]["routes"][0].update(
                match={"path": {"prefix": "/x"}}
            ),
            "spec.services[0].routes[0]",
            "the last route must have no match",
        ),
        (
            lambda d: d["spec"]["services"][0]["versions"].append(
                {"name": "v1", "labels": {"v": "x"}}
            ),
            "spec.services[0].versions[2].name",
            "duplicate version name 'v1'",
        ),
        (
            lambda d: d["spec"]["services"].append(dict(d["spec"]["services"][0])),
            "spec.services[1].name",
            "duplicate service mesh-demo/web",
        ),
        (
            lambda d: d["spec"]["namespaces"].append({"name": "mesh-demo"}),
            "spec.namespaces[1].name",
            "duplicate namespace 'mesh-demo'",
        ),
        (
            lambda d: d["spec"]["services"][0].update(name="Web_1"),
            "spec.services[0].name",
            "'Web_1' is not a DNS-1123 label",
        ),
        (
            lambda d: d["spec"]["services"][0]["ports"][0].pop("targetPort"),
            "spec.services[0].ports[0]",
            "missing required field 'targetPort'",
        ),
        (
            lambda d: d["spec"]["services"][0]["ports"][0].update(port=0),
            "spec.services[0].ports[0].port",
            "0 is out of range",
        ),
        (
            lambda d: d["spec"]["services"][0]["retries"].update(perTryTimeout="1 sec"),
            "spec.services[0].retries.perTryTimeout",
            "is not a duration",
        ),
        (
            lambda d: d["spec"]["services"][0]["allow"][0].update(fromNamespaces=["elsewhere"]),
            "spec.services[0].allow[0].fromNamespaces[0]",
            "'elsewhere' is not in spec.admission.allowedNamespaces (mesh-demo)",
        ),
        (
            lambda d: d["spec"]["services"][0]["allow"][0].update(ports=[8080]),
            "spec.services[0].allow[0].ports[0]",
            "port 8080 is not a port of this service (80)",
        ),
        (
            lambda d: d["spec"]["services"][0].update(namespace="other"),
            "spec.services[0].namespace",
            "'other' is not a meshed namespace",
        ),
        (
            lambda d: d["spec"]["services"][0]["routes"][0].update(to="v2"),
            "spec.services[0].routes[0].to",
            "give split or to, not both",
        ),
        (
            lambda d: d["spec"]["services"][0]["routes"][0].pop("split"),
            "spec.services[0].routes[0]",
            "a route needs split",
        ),
        (
            lambda d: d["spec"].update(mtls="strict"),
            "spec.mtls",
            "'strict' is not one of STRICT, PERMISSIVE (did you mean 'STRICT'?)",
        ),
        (lambda d: d.update(kind="Mesh2"), "kind", "must be 'Mesh', got 'Mesh2'"),
        (
            lambda d: d["spec"]["services"][0]["ports"][0].update(protocol="tcp"),
            "spec.services[0].timeout",
            "but every port of this service has protocol tcp",
        ),
        (
            lambda d: d["spec"]["services"][0].update(timeout="0s"),
            "spec.services[0].timeout",
            "shorter than 1ms",
        ),
        (
            lambda d: d["spec"]["admission"].update(exemptNamespaces=["mesh-demo"]),
            "spec.namespaces[0].name",
            "is meshed and also listed in spec.admission.exemptNamespaces",
        ),
    ],
)
def test_rule(tmp_path: Path, edit: Any, path: str, message: str) -> None:
    found = edited(tmp_path, edit)
    matching = [f for f in found if f" {path}: " in f and message in f]
    assert matching, f"expected {path}: {message!r} in {found}"
    # Every problem carries a real line and column.
    assert all(f.split(":")[1].isdigit() and f.split(":")[2].isdigit() for f in matching)


def test_duplicate_yaml_keys_are_an_error(tmp_path: Path) -> None:
    found = problems_of(
        tmp_path, quickstart_with("  mtls: STRICT\n", "  mtls: STRICT\n  mtls: PERMISSIVE\n")
    )
    assert found == ["mesh.yaml:8:3: spec.mtls: duplicate key 'mtls'"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "mesh.yaml: the file is empty"),
        ("# only a comment\n", "mesh.yaml: the file is empty"),
        ("spec: [unclosed\n", "mesh.yaml:2:1: invalid YAML: did not find expected ',' or ']'"),
        ("a: 1\n---\nb: 2\n", "mesh.yaml:3:1: expected one YAML document, found several"),
        ("- a list\n", "mesh.yaml:1:1: must be a mapping, got a list"),
    ],
)
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    assert problems_of(tmp_path, text)[0] == expected


def test_missing_file_is_reported_by_name(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_mesh(str(tmp_path / "nope.yaml"))
    assert info.value.format() == f"{tmp_path / 'nope.yaml'}: no such file"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meshc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )


def test_the_cli_exits_2_with_every_problem_and_no_traceback(tmp_path: Path) -> None:
    spec = write_spec(
        tmp_path,
        quickstart_with("{v1: 90, v2: 10}", "{v1: 90, v2: 5}").replace("retries:", "retires:"),
    )
    result = run_cli("render", "--spec", "mesh.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "mesh.yaml:22:18: spec.services[0].routes[0].split: weights sum to 95, must be 100",
        "mesh.yaml:24:7: spec.services[0].retires: unknown field 'retires' (did you mean 'retries'?)",
    ]
    assert spec.exists()


@pytest.mark.parametrize("content", [None, "", "\x00\xff not yaml: [", "kind: Mesh\n"])
def test_the_cli_never_shows_a_traceback(tmp_path: Path, content: str | None) -> None:
    if content is not None:
        (tmp_path / "mesh.yaml").write_bytes(content.encode("latin-1"))
    for command in (["render", "--spec", "mesh.yaml"], ["validate", "--spec", "mesh.yaml"]):
        result = run_cli(*command, cwd=tmp_path)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("mesh.yaml")
