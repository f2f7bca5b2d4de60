"""The policies compiled to WebAssembly by OPA, for the wasm engine.

The package ships ``policy.wasm``, built by the pinned OPA from the packaged
Rego, with ``policy.wasm.json`` recording the digest of the sources it was
built from. The engine uses it only when that digest matches the Rego it
would otherwise evaluate; other Rego (``--policies DIR``, or an edit not yet
rebuilt) is compiled with an ``opa`` binary at start-up, or refused.

Rebuild after changing a policy:
    .venv/bin/python -m meshc.policies.wasm_bundle --opa .tools/bin/opa
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from .engine import EngineError
from .modules import ENTRYPOINT, POLICIES_ENV, packaged_dir, policy_modules

WASM = "policy.wasm"
MANIFEST = "policy.wasm.json"
# The OPA binary that compiles Rego other than the packaged build's.
OPA_ENV = "MESHC_OPA"
COMPILE_TIMEOUT = 120.0


def sources_digest(modules: dict[str, str]) -> str:
    """What identifies a set of Rego modules: their names and sources, in order."""
    digest = hashlib.sha256()
    for name in sorted(modules):
        for part in (name, modules[name]):
            encoded = part.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "big"))
            digest.update(encoded)
    return digest.hexdigest()


def packaged() -> tuple[bytes, dict[str, str]] | None:
    """The shipped module and its manifest, or None when this install has none."""
    root = packaged_dir()
    try:
        manifest = json.loads(root.joinpath(MANIFEST).read_text(encoding="utf-8"))
        return root.joinpath(WASM).read_bytes(), manifest
    except (OSError, ValueError):
        return None


def policy_wasm(modules: dict[str, str] | None = None) -> bytes:
    """The Wasm module for ``modules`` (default: the Rego the engines evaluate).

    The shipped build when it was made from exactly these sources; otherwise
    a fresh compile with OPA. Raises EngineError when neither is possible.
    """
    modules = policy_modules() if modules is None else modules
    shipped = packaged()
    if shipped is not None and shipped[1].get("sources") == sources_digest(modules):
        return shipped[0]
    opa = find_opa()
    if opa is None:
        reason = "they differ from the compiled ones shipped" if shipped else "none are shipped"
        raise EngineError(
            f"the policies cannot be compiled to Wasm: {reason}, and no `opa` binary was found "
            f"(put it on PATH or name it in {OPA_ENV}), or use --engine embedded"
        )
    return compile_wasm(opa, modules)


def find_opa() -> str | None:
    return os.environ.get(OPA_ENV) or shutil.which("opa")


def compile_wasm(opa: str, modules: dict[str, str]) -> bytes:
    """``opa build -t wasm`` of ``modules`` with the one entry point; the module's bytes."""
    with tempfile.TemporaryDirectory(prefix="meshc-wasm-") as tmp:
        src = Path(tmp, "src")
        src.mkdir()
        for name, source in modules.items():
            (src / name).write_text(source, encoding="utf-8")
        out = Path(tmp, "bundle.tar.gz")
        # Built from inside src: OPA records each module's path in the module
        # (for runtime error locations), and a temporary directory's name
        # there would make every build differ and every error name it.
        program = os.path.abspath(opa) if os.path.dirname(opa) else opa
        try:
            done = subprocess.run(
                [
                    program,
                    "build",
                    "--target",
                    "wasm",
                    "--entrypoint",
                    ENTRYPOINT,
                    "--output",
                    str(out),
                    ".",
                ],
                cwd=src,
                capture_output=True,
                text=True,
                timeout=COMPILE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"the policies do not compile: running {opa}: {exc}") from exc
        if done.returncode != 0:
            message = (done.stderr or done.stdout).strip()
            raise EngineError(f"the policies do not compile: {message}")
        return _bundle_member(out.read_bytes(), WASM)


def _bundle_member(bundle: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(bundle), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.name.lstrip("/") == name:
                extracted = tar.extractfile(member)
                if extracted is not None:
                    return extracted.read()
    raise EngineError(f"opa build wrote no {name}")


def opa_version(opa: str) -> str:
    done = subprocess.run([opa, "version"], capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Version":
            return value.strip()
    raise RuntimeError(f"{opa} version printed no version")


def main(argv: list[str] | None = None) -> int:
    """Rebuild the shipped module and manifest from the packaged Rego."""
    parser = argparse.ArgumentParser(prog="python -m meshc.policies.wasm_bundle")
    parser.add_argument(
        "--opa", default=find_opa(), help=f"the OPA binary (default: ${OPA_ENV}, PATH)"
    )
    args = parser.parse_args(argv)
    if not args.opa:
        parser.error(f"no opa binary: pass --opa or set {OPA_ENV}")
    os.environ.pop(POLICIES_ENV, None)
    modules = policy_modules()
    wasm = compile_wasm(args.opa, modules)
    root = Path(str(packaged_dir()))
    manifest = {
        "opa": opa_version(args.opa),
        "entrypoint": ENTRYPOINT,
        "sources": sources_digest(modules),
    }
    (root / WASM).write_bytes(wasm)
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {root / WASM} ({len(wasm)} bytes) from {len(modules)} modules")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
