"""The policies' sample manifests and the specs they are judged against."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meshc import providers
from meshc.compiler.loader import load_mesh
from meshc.policies.data import policy_data
from support.paths import REPO

SAMPLES = REPO / "tests" / "policies" / "samples"
SPECS = SAMPLES / "specs"


def spec_for(sample: Path) -> Path:
    """A sample named <provider>-*.yaml is judged against specs/<provider>.yaml."""
    provider = sample.name.partition("-")[0]
    if provider not in providers.names():
        raise ValueError(
            f"{sample.name}: a sample's name starts with its provider "
            f"({', '.join(providers.names())})"
        )
    return SPECS / f"{provider}.yaml"


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*/*/*.yaml") if p.parent.parent.name != "specs")


def data_for(provider: str) -> dict[str, Any]:
    return policy_data(load_mesh(str(SPECS / f"{provider}.yaml")))
