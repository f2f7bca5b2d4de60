"""Write rendered objects into a directory, all at once or not at all.

The new tree is built beside the old one and swapped in with one atomic
``renameat2(RENAME_EXCHANGE)``, under a lock: a render that fails or is killed
midway leaves the previous output as it was, and two concurrent renders never
leave a mix of both.
"""

from __future__ import annotations

import ctypes
import difflib
import errno
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .objects import Obj
from .serialize import dump

KUSTOMIZATION = "kustomization.yaml"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def filename(obj: Obj) -> str:
    meta = obj["metadata"]
    scope = meta.get("namespace", "_cluster")
    return f"{scope}_{obj['kind'].lower()}_{meta['name']}.yaml"


def render_files(objects: list[Obj]) -> dict[str, str]:
    """File name -> content for a directory of rendered objects."""
    files = {filename(obj): dump(obj) for obj in objects}
    resources = "".join(f"  - {name}\n" for name in files)
    files[KUSTOMIZATION] = (
        f"apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n{resources}"
        if files
        else "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
    )
    return files


def _is_rendered(name: str) -> bool:
    return name.endswith((".yaml", ".yml"))


def read_dir(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {
        p.name: p.read_text(encoding="utf-8")
        for p in sorted(directory.iterdir())
        if p.is_file() and _is_rendered(p.name)
    }


def diff_dir(files: dict[str, str], directory: Path) -> list[str]:
    """What differs between the wanted files and DIR, one line each."""
    present = read_dir(directory)
    lines = []
    for name in sorted(set(files) | set(present)):
        if name not in present:
            lines.append(f"missing: {name}")
        elif name not in files:
            lines.append(f"stale: {name} (no longer rendered)")
        elif present[name] != files[name]:
            lines.append(f"changed: {name}")
    return lines


def drift_diff(files: dict[str, str], directory: Path) -> list[str]:
    """A unified diff from DIR as it is to the render, file by file (what ``--check`` shows)."""
    present = read_dir(directory)
    lines: list[str] = []
    for name in sorted(set(files) | set(present)):
        before, after = present.get(name), files.get(name)
        if before == after:
            continue
        lines += difflib.unified_diff(
            (before or "").splitlines(keepends=True),
            (after or "").splitlines(keepends=True),
            fromfile=str(directory / name) if before is not None else "/dev/null",
            tofile=f"{directory / name} (rendered)" if after is not None else "/dev/null",
        )
    # Each line of a diff ends with a newline, except a last line that had none.
    return [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n"
            for line in lines]  # fmt: skip


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    lock_path = directory.parent / f".{directory.name}.meshc.lock"
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories; False where the kernel or filesystem cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def write_dir(files: dict[str, str], directory: Path) -> bool:
    """Replace DIR's rendered files with ``files``; False when nothing changed."""
    directory = directory.absolute()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with _locked(directory):
        for leftover in directory.parent.glob(f".{directory.name}.new-*"):
            shutil.rmtree(leftover, ignore_errors=True)  # from a render that was killed
        if directory.is_dir() and not diff_dir(files, directory):
            return False
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.new-", dir=directory.parent))
        try:
            for name, text in files.items():
                with open(staging / name, "w", encoding="utf-8") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
            if directory.is_dir():
                # Files that are not rendered manifests (a README, .gitkeep) stay.
                for extra in directory.iterdir():
                    if not _is_rendered(extra.name) and not (staging / extra.name).exists():
                        if extra.is_dir():
                            shutil.copytree(extra, staging / extra.name, symlinks=True)
                        else:
                            shutil.copy2(extra, staging / extra.name, follow_symlinks=False)
                os.chmod(staging, directory.stat().st_mode & 0o7777)
                if not _exchange(staging, directory):
                    backup = staging.with_name(staging.name + "-old")
                    os.rename(directory, backup)
                    os.rename(staging, directory)
                    staging = backup
            else:
                os.chmod(staging, 0o755)
                os.rename(staging, directory)
                return True
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return True
