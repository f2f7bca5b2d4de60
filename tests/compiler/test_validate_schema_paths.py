"""The spec schema is checked two ways: the compiled schema (fastjsonschema) first, kept
between processes in the user's cache, and jsonschema for the problems of a spec it
refuses. Both say the same."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
import yaml
from jsonschema import Draft202012Validator

from meshc.compiler import schema_check
from meshc.compiler.errors import SpecError
from meshc.compiler.loader import load_mesh
from meshc.compiler.schema import MESH_SCHEMA
from meshc.usercache import UserCache
from support.specs import QUICKSTART, example_specs, write_spec

HERE = Path(__file__).parent
SPECS = [*example_specs(), *sorted((HERE / "bookinfo").glob("*.yaml"))]


def compiled_accepts(data: Any) -> bool:
    try:
        schema_check.check()(data)
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


def test_a_spec_the_compiled_schema_refuses_reports_every_problem_jsonschema_finds(
    tmp_path: Path,
) -> None:
    data = _bookinfo()
    data["spec"]["services"][1]["routes"][0].update(fault={"delay": {"fixed": "soon"}})
    data["spec"]["telemetry"][0]["tracing"].update(samplingPercent=101)
    assert not compiled_accepts(data)
    with pytest.raises(SpecError) as info:
        load_mesh(str(write_spec(tmp_path, data, "broken.yaml")))
    assert sorted(p.path for p in info.value.problems) == [
        "spec.services[1].routes[0].fault.delay.fixed",
        "spec.telemetry[0].tracing.samplingPercent",
    ]


def test_the_compiled_check_is_kept_and_a_second_process_loads_it(tmp_path: Path) -> None:
    files = UserCache(tmp_path / "cache")
    first = schema_check.compiled(files)
    (entry,) = (tmp_path / "cache").iterdir()
    assert entry.name == schema_check.entry_name()
    assert oct(entry.stat().st_mode & 0o777) == oct(0o600)
    written = entry.stat().st_mtime_ns
    second = schema_check.compiled(files)
    assert entry.stat().st_mtime_ns == written  # read, not written again
    spec = _bookinfo()
    first(spec)
    second(spec)
    spec["spec"]["telemetry"][0]["tracing"].update(samplingPercent=101)
    for check in (first, second):
        with pytest.raises(fastjsonschema.JsonSchemaException):
            check(spec)


def test_a_damaged_entry_is_compiled_again(tmp_path: Path) -> None:
    files = UserCache(tmp_path)
    (tmp_path / schema_check.entry_name()).write_bytes(b"not marshalled code")
    (tmp_path / schema_check.entry_name()).chmod(0o600)
    schema_check.compiled(files)(_bookinfo())
    assert (tmp_path / schema_check.entry_name()).read_bytes() != b"not marshalled code"


def test_an_entry_others_may_change_is_never_run(tmp_path: Path) -> None:
    # Marshalled code that would accept anything, in an entry writable by others.
    files = UserCache(tmp_path)
    entry = tmp_path / schema_check.entry_name()
    entry.write_bytes(marshal.dumps(compile("def validate(data):\n    return data\n", "x", "exec")))
    entry.chmod(0o666)
    check = schema_check.compiled(files)
    spec = _bookinfo()
    spec["spec"]["telemetry"][0]["tracing"].update(samplingPercent=101)
    with pytest.raises(fastjsonschema.JsonSchemaException):
        check(spec)


def test_a_valid_spec_is_loaded_without_importing_jsonschema(tmp_path: Path) -> None:
    # jsonschema's import is about a quarter of a `meshc check` start-up; only a spec
    # the compiled schema refuses needs it, to list every problem.
    code = (
        "import sys; from meshc.compiler.loader import load_mesh; "
        f"load_mesh({str(QUICKSTART)!r}); print('jsonschema' in sys.modules)"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    for _ in ("compiled and kept", "loaded from the cache"):
        result = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        assert result.stdout.strip() == "False"
    assert [p.name for p in (tmp_path / "meshc").iterdir()] == [schema_check.entry_name()]
