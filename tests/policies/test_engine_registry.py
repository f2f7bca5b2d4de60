"""One registry of engines: every name, factory and property comes from ``ENGINES``.

The ``--engine`` choices of ``meshc check`` and ``meshc webhook serve``, the
chart's ``server.engine`` enum, the webhook's threads and the way it bounds
an evaluation's time all read it or are held to it here, so an engine is
added or renamed in one place.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import pytest
import yaml

from meshc.cli import build_parser
from meshc.policies.embedded import EmbeddedEngine
from meshc.policies.engine import (
    DEFAULT_ENGINE,
    ENGINE_NAMES,
    ENGINES,
    BoundedEngine,
    EngineFrame,
    create_engine,
    engine_help,
)
from meshc.policies.opa_server import OpaServerEngine
from meshc.policies.wasm_engine import WasmEngine
from meshc.webhook.settings import Settings
from support.paths import REPO

CHART = REPO / "charts" / "meshc"
CLASSES = {"wasm": WasmEngine, "embedded": EmbeddedEngine, "opa": OpaServerEngine}


def engine_option(*command: str) -> argparse.Action:
    """The ``--engine`` option of ``meshc <command...>``, as the parser has it."""
    parser = build_parser()
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return next(a for a in parser._actions if "--engine" in a.option_strings)


def test_the_names_are_the_registry_s_keys_in_its_order() -> None:
    assert ENGINE_NAMES == tuple(ENGINES) == ("wasm", "embedded", "opa")
    assert all(info.name == name for name, info in ENGINES.items())
    assert DEFAULT_ENGINE in ENGINES


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_each_factory_makes_its_engine_on_the_frame(name: str, istio_data: dict[str, Any]) -> None:
    # The OPA server engine connects only when it evaluates.
    engine = create_engine(name, istio_data, opa_url="http://127.0.0.1:9")
    assert type(engine) is CLASSES[name]
    assert isinstance(engine, EngineFrame)
    info = ENGINES[name]
    # bounds_deadline is what the webhook's State finds out for itself.
    assert isinstance(engine, BoundedEngine) is info.bounds_deadline
    assert (info.judge_threads == 0) is info.bounds_deadline
    assert info.server_threads >= 1


def test_an_unknown_name_is_refused_naming_the_registered_ones(
    istio_data: dict[str, Any],
) -> None:
    with pytest.raises(ValueError, match="unknown policy engine 'rego'; expected one of 'wasm', "):
        create_engine("rego", istio_data)


@pytest.mark.parametrize("command", [("check",), ("webhook", "serve")], ids=" ".join)
def test_the_engine_option_offers_the_registry(command: tuple[str, ...]) -> None:
    option = engine_option(*command)
    assert tuple(option.choices or ()) == ENGINE_NAMES
    assert option.default in ENGINE_NAMES
    assert option.help == engine_help(option.default)
    assert all(f"{name}: {ENGINES[name].summary}" in option.help for name in ENGINE_NAMES)


def test_check_and_the_webhook_default_to_the_default_engine() -> None:
    assert DEFAULT_ENGINE == "wasm"
    assert engine_option("check").default == DEFAULT_ENGINE
    assert engine_option("webhook", "serve").default == DEFAULT_ENGINE
    assert Settings(spec="mesh.yaml").engine == DEFAULT_ENGINE


def test_the_chart_offers_the_in_process_engines_and_defaults_to_the_default() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    enum = schema["properties"]["server"]["properties"]["engine"]["enum"]
    assert enum == [name for name, info in ENGINES.items() if info.in_process]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["server"]["engine"] == DEFAULT_ENGINE
    # The rest run beside the webhook: the chart's sidecar passes --engine=<name>.
    deployment = (CHART / "templates" / "webhook-deployment.yaml").read_text()
    for name, info in ENGINES.items():
        if not info.in_process:
            assert f"--engine={name}" in deployment


def test_the_webhook_takes_its_threads_from_the_registry(tmp_path: Any) -> None:
    from meshc.webhook import serve
    from meshc.webhook.state import load_state

    assert serve.THREADS == {name: info.server_threads for name, info in ENGINES.items()}
    spec = REPO / "examples" / "quickstart" / "mesh.yaml"
    for name, info in ENGINES.items():
        if info.in_process:
            state = load_state(Settings(spec=str(spec), engine=name))
            assert state.judge_threads == info.judge_threads
