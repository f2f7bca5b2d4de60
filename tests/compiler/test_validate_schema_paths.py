"""The spec schema is checked two ways: jsonschema for specs with few services, and the
compiled schema (fastjsonschema) first for larger ones. Both say the same."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml
from jsonschema import Draft202012Validator

from meshc.compiler import validate
from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.schema import MESH_SCHEMA
from support.specs import example_specs, write_spec

HERE = Path(__file__).parent
SPECS = [*example_specs(), *sorted((HERE / "bookinfo").glob("*.yaml"))]


def compiled_accepts(data: Any) -> bool:
    try:
        validate._fast_check()(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_both_accept_every_example(spec: Path) -> None:
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    assert compiled_accepts(data)
    assert list(Draft202012Validator(MESH_SCHEMA).iter_errors(data)) == []


def _bookinfo() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        (HERE.parents[1] / "examples" / "bookinfo" / "mesh.yaml").read_text(encoding="utf-8")
    )
    return data


BROKEN = [
    lambda d: d["spec"]["services"][1]["routes"][0].update(fault={"delay": {"fixed": "soon"}}),
    lambda d: d["spec"]["services"][1]["routes"][0]["match"].update(grpc={"method": "Get"}),
    lambda d: d["spec"]["ingress"][0]["listeners"][0].update(protocol="TCP"),
    lambda d: d["spec"]["egress"]["hosts"][0].update(host="Not A Host"),
    lambda d: d["spec"]["telemetry"][0]["tracing"].update(samplingPercent=101),
    lambda d: d["spec"]["services"][0].update(rateLimit={"requestsPerSecond": 0}),
    lambda d: d["spec"]["services"][1]["routes"][0].update(redirect={"statusCode": 399}),
]


@pytest.mark.parametrize("edit", BROKEN)
def test_both_refuse_what_the_schema_refuses(edit: Any) -> None:
    data = _bookinfo()
    edit(data)
    assert not compiled_accepts(data)
    assert list(Draft202012Validator(MESH_SCHEMA).iter_errors(data)) != []


def test_a_large_spec_reports_the_same_problems_through_the_compiled_schema(tmp_path: Path) -> None:
    small = _bookinfo()
    small["spec"]["services"][1]["routes"][0].update(fault={"delay": {"fixed": "soon"}})
    large = copy.deepcopy(small)
    extra = large["spec"]["services"][3]
    for i in range(validate.COMPILE_ABOVE):
        large["spec"]["services"].append(
            {**copy.deepcopy(extra), "name": f"extra-{i}", "selector": {"app": f"extra-{i}"}}
        )
    assert validate._service_count(large) > validate.COMPILE_ABOVE

    found = []
    for name, data in (("small.yaml", small), ("large.yaml", large)):
        with pytest.raises(SpecError) as info:
            load_mesh(str(write_spec(tmp_path, data, name)))
        found.append([(p.line, p.column, p.path, p.message) for p in info.value.problems])
    assert found[0] == found[1]
    assert [p[2] for p in found[0]] == ["spec.services[1].routes[0].fault.delay.fixed"]
