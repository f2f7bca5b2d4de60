"""The OPA server engine: the same policies, evaluated by ``opa run --server``.

For teams that run OPA centrally or as a sidecar. The server holds the
policies and ``data.meshc.config`` either from a bundle (:func:`write_bundle`,
then ``opa run --server --bundle DIR``) or pushed over the REST API
(:meth:`OpaServerEngine.publish`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from opa_client import OpaClient

from .engine import UNDEFINED, EngineError, EngineFrame
from .modules import DATA_ROOT, ENTRYPOINT, policy_modules


class OpaServerEngine(EngineFrame):
    def __init__(self, data: dict[str, Any], *, url: str, timeout: float):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"OPA URL must be http(s)://host[:port], got {url!r}")
        super().__init__(data)
        self._data = data
        self._url = url
        # No retries: the webhook's own timeout budget belongs to the API server.
        self._client = OpaClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 80),
            ssl=parts.scheme == "https",
            timeout=timeout,
            retries=0,
        )

    def publish(self) -> None:
        """Push the policies and ``data.meshc.config`` through the REST API."""
        try:
            for name, source in policy_modules().items():
                self._client.update_policy_from_string(source, f"meshc/{name}", rego_compat=False)
            self._client.update_or_create_data(self._data, "/".join(DATA_ROOT))
        except Exception as exc:  # opa_client raises its own types and requests'
            raise EngineError(f"cannot load the policies into OPA at {self._url}: {exc}") from exc

    def raw(self, document: Any) -> Any:
        answer = self._client.query_rule(input_data=document, package_path=ENTRYPOINT)
        if isinstance(answer, dict) and "result" in answer:
            return answer["result"]
        return UNDEFINED

    @property
    def failure(self) -> str:
        return f"OPA at {self._url} gave no decision"

    @property
    def undefined(self) -> str:
        # The entry point is always defined once the policies are loaded.
        return f"OPA at {self._url} has no {ENTRYPOINT}: are the meshc policies loaded?"


def write_bundle(directory: Path, data: dict[str, Any]) -> Path:
    """Write an OPA bundle directory (policies, data, manifest) for ``opa run --bundle``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, source in policy_modules().items():
        (directory / name).write_text(source, encoding="utf-8")
    data_dir = directory.joinpath(*DATA_ROOT)
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "data.json").write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    manifest = {"roots": [DATA_ROOT[0]], "rego_version": 1}
    (directory / ".manifest").write_text(json.dumps(manifest), encoding="utf-8")
    return directory
