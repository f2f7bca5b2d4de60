"""Every object meshc renders validates against the upstream schemas."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshc.compiler.loader import load_mesh
from meshc.compiler.targets import RenderOptions, render
from support.schemas import assert_valid
from support.specs import example_specs


@pytest.mark.parametrize("istio_api", ["v1", "v1beta1"])
@pytest.mark.parametrize("spec", example_specs(), ids=lambda p: p.parent.name)
def test_istio_output_validates_against_the_istio_crds(spec: Path, istio_api: str) -> None:
    objects, _ = render(
        load_mesh(str(spec)), RenderOptions.of(istio_api=istio_api, allow_lossy=True), "istio"
    )
    assert objects
    assert_valid(objects)
