"""Rendering into one directory: concurrent renders never mix, a killed render changes nothing.

Real ``meshc render -o`` processes of two large generated specs (A and B,
which differ in every object and in the file set) race for one directory
or are killed with SIGKILL at random points; after each round the directory
holds exactly one complete render, A or B.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from meshc.compiler.output import read_dir

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
from bench_render import generated_spec

RENDERERS = 6
KILLS = 10


def write_spec(path: Path, services: int, name: str) -> Path:
    spec = generated_spec(services)
    spec["metadata"]["name"] = name
    for service in spec["spec"]["services"]:
        service["timeout"] = "3s" if name == "a" else "7s"
    path.write_text(yaml.safe_dump(spec))
    return path


def command(spec: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "meshc", "render", "--spec", str(spec), "-o", str(out)]


def render(spec: Path, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        command(spec, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def render_now(spec: Path, out: Path) -> None:
    done = subprocess.run(
        command(spec, out), capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def specs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, str]]]:
    """Spec path and the files it renders to, for A (400 services) and B (300)."""
    root = tmp_path_factory.mktemp("specs")
    found = {}
    for name, services in (("a", 400), ("b", 300)):
        spec = write_spec(root / f"{name}.yaml", services, name)
        out = root / f"{name}-alone"
        render_now(spec, out)
        found[name] = (spec, read_dir(out))
    assert found["a"][1].keys() != found["b"][1].keys()
    return found


def which_render(out: Path, specs: dict[str, tuple[Path, dict[str, str]]]) -> str:
    present = read_dir(out)
    matches = [name for name, (_, files) in specs.items() if present == files]
    assert len(matches) == 1, f"{out} is not one complete render: {len(present)} files"
    assert sorted(p.name for p in out.iterdir()) == sorted(
        present
    )  # nothing half-written beside them
    return matches[0]


def test_concurrent_renders_leave_exactly_one_of_them(tmp_path: Path, specs) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rendered"
    seen = set()
    for round_ in range(3):
        procs = [render(specs["ab"[(i + round_) % 2]][0], out) for i in range(RENDERERS)]
        for p in procs:
            assert p.wait(180) == 0
        seen.add(which_render(out, specs))
    assert seen <= {"a", "b"}


def test_a_render_killed_at_any_point_leaves_the_previous_output(tmp_path: Path, specs) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "rendered"
    render_now(specs["b"][0], out)
    # How long a whole render of A takes here, so kills land all through it.
    started = time.monotonic()
    probe = tmp_path / "probe"
    render_now(specs["a"][0], probe)
    whole = time.monotonic() - started
    rng = random.Random(20261126)
    outcomes = []
    for _ in range(KILLS):
        proc = render(specs["a"][0], out)
        time.sleep(rng.uniform(0.0, whole))
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        outcomes.append(which_render(out, specs))
        if outcomes[-1] == "a":  # it finished first: put B back for the next kill
            render_now(specs["b"][0], out)
    # Some kills must land mid-render for this to mean anything.
    assert outcomes.count("b") >= KILLS // 2, outcomes
