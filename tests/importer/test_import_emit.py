"""The imported spec as YAML: the spec's key order whatever order the draft was built in,
and each part's origin as a comment above it, never as data."""

from __future__ import annotations

import yaml

from meshc.importer.draft import FROM
from meshc.importer.emit import to_yaml


def test_keys_follow_the_spec_order_and_origins_are_comments() -> None:
    spec = {
        "spec": {
            "services": [
                {
                    "ports": [{"targetPort": 80, "port": 80, "name": "http"}],
                    "name": "web",
                    FROM: ["a.yaml:3", "b.yaml:1"],
                    "routes": [{"split": {"v2": 10, "v1": 90}, FROM: ["c.yaml:9"]}],
                    "namespace": "shop",
                }
            ],
            "provider": "istio",
        },
        "kind": "Mesh",
        "apiVersion": "meshc.io/v1alpha1",
    }
    text = to_yaml(spec, ["header"])
    assert text.splitlines()[:4] == [
        "# header",
        "apiVersion: meshc.io/v1alpha1",
        "kind: Mesh",
        "spec:",
    ]
    assert "  # from a.yaml:3, b.yaml:1\n  - name: web\n    namespace: shop\n" in text
    assert "    # from c.yaml:9\n    - split:\n        v2: 10\n        v1: 90\n" in text
    data = yaml.safe_load(text)
    assert FROM not in str(data)
    assert list(data["spec"]["services"][0]["ports"][0]) == ["name", "port", "targetPort"]


def test_scalars_that_yaml_would_read_otherwise_are_quoted() -> None:
    text = to_yaml({"spec": {"labels": {"on": "on", "version": "1.0", "empty": ""}}}, [])
    assert yaml.safe_load(text)["spec"]["labels"] == {"on": "on", "version": "1.0", "empty": ""}
