"""The webhook image's Dockerfile, read statically (no container engine is needed).

The image must: start from an exactly pinned base, build in one stage and run
from another with nothing but the virtual environment copied over, run as a
non-root UID the meshes do not treat specially, and start `meshc webhook serve`
with the paths the chart mounts.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support.helm_chart import CI_VALUES, args_of, ci_values, container, render
from support.paths import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|clang|make|build-essential|cargo|rustc|apt-get|apk|pip3? install|python3? -m pip)\b"
)
# python:<major>.<minor>.<patch>-slim[-<debian>], optionally @sha256:<digest>.
PINNED_PYTHON = re.compile(r"^python:3\.\d+\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _logical_lines(text: str) -> list[str]:
    lines, current = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    return lines


def parse() -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of the Dockerfile, bases resolved."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(DOCKERFILE.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], words[0])
            alias = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, alias))
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def _exec_form(value: str) -> list[str]:
    parsed: list[str] = json.loads(value)
    return parsed


def test_every_stage_starts_from_an_exactly_pinned_slim_python() -> None:
    _, stages = parse()
    assert len(stages) >= 2, "a build stage and a runtime stage"
    for stage in stages:
        assert PINNED_PYTHON.match(stage.base), stage.base
    assert len({s.base for s in stages}) == 1, "the venv is only portable between identical bases"


def test_the_final_stage_installs_and_compiles_nothing() -> None:
    _, stages = parse()
    final = stages[-1]
    assert final.all("RUN") == []
    for keyword, args in final.instructions:
        assert not BUILD_TOOLS.search(args), f"{keyword} {args}"
    copies = final.all("COPY")
    assert copies and all(c.startswith(f"--from={stages[0].name} ") for c in copies), copies
    assert [shlex.split(c)[1:] for c in copies] == [["/opt/meshc", "/opt/meshc"]]


def test_the_build_stage_builds_a_wheel_from_prebuilt_dependencies_only() -> None:
    _, stages = parse()
    (run,) = stages[0].all("RUN")
    assert "pip wheel" in run
    assert "--only-binary=:all:" in run
    assert "uninstall --yes pip setuptools" in run


@pytest.mark.parametrize("forbidden", ["0", "root", "1337", "2102"])
def test_the_image_runs_as_a_non_root_uid_the_meshes_ignore(forbidden: str) -> None:
    _, stages = parse()
    (user,) = stages[-1].all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "a numeric UID lets runAsNonRoot be verified"
    assert forbidden not in (uid, gid)


def test_the_image_uid_is_the_charts_default() -> None:
    _, stages = parse()
    (user,) = stages[-1].all("USER")
    deployment_uid = container(render(), "webhook")["securityContext"]["runAsUser"]
    assert user.split(":")[0] == str(deployment_uid)


def test_the_entrypoint_is_meshc_webhook_serve_with_the_charts_paths() -> None:
    _, stages = parse()
    (entrypoint,) = stages[-1].all("ENTRYPOINT")
    (cmd,) = stages[-1].all("CMD")
    assert _exec_form(entrypoint) == ["/opt/meshc/bin/meshc", "webhook", "serve"]
    defaults = _exec_form(cmd)
    chart = args_of(container(render(), "webhook"))
    for flag in ("--spec", "--cert", "--key"):
        assert defaults[defaults.index(flag) + 1] == chart[flag], flag
    (expose,) = stages[-1].all("EXPOSE")
    assert expose == chart["--port"]


def test_the_read_only_root_filesystem_needs_no_bytecode_writes() -> None:
    _, stages = parse()
    env = " ".join(stages[-1].all("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PATH=/opt/meshc/bin:" in env


def test_the_build_context_holds_the_package_and_nothing_else() -> None:
    rules = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first, then the package is let back in"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_roots = set(pyproject["tool"]["setuptools"]["packages"]["find"]["where"])
    assert package_roots | {"pyproject.toml", pyproject["project"]["readme"]} <= allowed
    assert not allowed & {".venv", ".git", "tests", ".tools", "bench", "charts"}


@pytest.mark.parametrize(
    "values_file", [None, *CI_VALUES], ids=lambda p: "defaults" if p is None else p.name
)
def test_the_webhook_container_args_are_accepted_by_meshc_itself(values_file: Path | None) -> None:
    from meshc.cli import build_parser

    values = ci_values(values_file) if values_file else {}
    webhook = container(render(values), "webhook")
    args = build_parser().parse_args(["webhook", "serve", *webhook["args"]])
    assert args.handler == "meshc.webhook.serve:run"
    assert args.port == 8443
    if (values.get("opa") or {}).get("sidecar", {}).get("enabled"):
        assert (args.engine, args.opa_publish) == ("opa", True)
    else:
        assert args.engine == ((values.get("server") or {}).get("engine") or "wasm")
