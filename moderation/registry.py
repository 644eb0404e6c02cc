"""A folder of immutable, versioned model directories with a ``default`` pointer.

``default`` is a relative symlink that :func:`promote` and :func:`rollback` swap with one
atomic ``rename``: a crash mid-promotion leaves either the old or the new target, never
a broken pointer. Every switch is appended to ``history.jsonl``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moderation.errors import GateError, ModelError
from moderation.model import CHECKPOINTS_DIR, META_FILE, WEIGHTS_FILE, check_model_dir, default_models_dir, read_meta

POINTER = "default"
HISTORY = "history.jsonl"


@dataclass
class ModelInfo:
    name: str
    path: Path
    meta: dict[str, Any]
    is_default: bool
    problem: str | None = None  # why the folder cannot be used, for listings

    @property
    def version(self) -> str:
        return f"{self.meta.get('name', '?')}@{self.meta.get('version', '?')}"


class Registry:
    """Operations on one models folder (``--models-dir`` or ``$MODERATION_MODELS_DIR``)."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_models_dir()

    def _default_target(self) -> str | None:
        pointer = self.root / POINTER
        return os.readlink(pointer) if pointer.is_symlink() else None

    def list(self) -> list[ModelInfo]:
        """Every model folder; one whose metadata cannot be read is listed with its ``problem``."""
        if not self.root.is_dir():
            raise ModelError(f"models folder not found: {self.root}")
        current = self._default_target()
        infos = []
        for path in sorted(self.root.iterdir()):
            if path.name == POINTER or path.is_symlink() or not (path / META_FILE).is_file():
                continue
            try:
                infos.append(ModelInfo(path.name, path, read_meta(path), path.name == current))
            except ModelError as exc:
                infos.append(ModelInfo(path.name, path, {}, path.name == current, problem=str(exc)))
        return infos

    def get(self, name: str) -> ModelInfo:
        """A model by folder name, or ``default`` for the folder the pointer names."""
        if name == POINTER:
            name = self._default_target() or ""
            if not name:
                raise ModelError(f"no default model in {self.root}: promote one first")
        if name in ("", ".", "..") or Path(name).name != name:
            raise ModelError(f"{name!r} is not a model name: use a folder name inside {self.root} (see `moderation models list`)")
        path = self.root / name
        if not (path / META_FILE).is_file():
            known = ", ".join(i.name for i in self.list()) or "none"
            raise ModelError(f"no model {name!r} in {self.root} (known: {known})")
        return ModelInfo(name, path, read_meta(path), name == self._default_target())

    def _switch(self, name: str, action: str, extra: dict[str, Any] | None = None) -> None:
        name = self.get(name).name  # never point the default at a missing folder, or at itself
        if not (self.root / name / WEIGHTS_FILE).is_file():
            raise ModelError(f"{self.root / name} has no {WEIGHTS_FILE}: not a complete model")
        pointer = self.root / POINTER
        if pointer.exists() and not pointer.is_symlink():
            raise ModelError(f"{pointer} is a directory, not a pointer; move it into a versioned folder first")
        previous = self._default_target()
        tmp = self.root / f".{POINTER}.tmp"
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        os.symlink(name, tmp)  # relative, so the folder can be moved or cloned
        os.replace(tmp, pointer)
        record = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"), "action": action, "from": previous, "to": name}
        record.update(extra or {})
        with open(self.root / HISTORY, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def promote(self, name: str, force: bool = False) -> ModelInfo:
        """Make ``name`` the default; refused if its regression gate failed, unless forced.
        Promoting the current default changes nothing (no history entry: the file is tracked in git)."""
        info = self.get(name)
        if info.is_default:
            return info
        gate = info.meta.get("regression_gate") or {}
        if gate.get("passed") is False and not force:
            raise GateError(f"{info.name} failed its regression gate ({gate.get('summary', 'see metadata')}); use --force to promote anyway")
        self._switch(info.name, "promote", {"forced": bool(force and gate.get("passed") is False)})
        return self.get(info.name)

    def rollback(self) -> ModelInfo:
        """Point ``default`` back at the default before the current one. Each rollback undoes one
        promotion, so rolling back again goes further back, never to the model just rolled back from."""
        history = self.history()
        current = self._default_target()
        stack: list[str] = []  # the defaults in force, oldest first
        for record in history:
            if record.get("action") == "rollback":
                del stack[-1:]
                continue
            if not stack and record.get("from"):
                stack.append(record["from"])
            stack.append(record["to"])
        if stack and stack[-1] == current:
            earlier = [name for name in stack[:-1] if name != current]
        else:  # the pointer was changed by hand: go back to what the last switch to it replaced
            earlier = [r["from"] for r in history if r["to"] == current and r.get("from")][-1:]
        if not earlier:
            raise ModelError("nothing to roll back to: no earlier default in history.jsonl")
        self._switch(earlier[-1], "rollback")
        return self.get(earlier[-1])

    def install(self, source: str, promote: bool | None = None,
                on_bytes: Callable[[int, int | None], None] = lambda done, total: None) -> tuple[ModelInfo, bool]:
        """Copy a model into the registry from a folder, a ``.tar.gz``/``.zip`` of one, or an http(s) URL of such
        an archive; the copy is named ``NAME-VERSION`` from its metadata and made read-only. It becomes the
        default when ``promote`` is true, or when ``promote`` is None and there is no default yet.
        Returns the model and whether it was copied (False: that version was already installed)."""
        with tempfile.TemporaryDirectory(prefix="moderation-install-") as scratch:
            folder = _model_source(source, Path(scratch), on_bytes)
            check_model_dir(folder)  # complete and loadable, before anything lands in the registry
            meta = read_meta(folder)
            name = f"{meta.get('name', 'model')}-{meta.get('version', '0')}"
            target = self.root / name
            copied = not (target / META_FILE).is_file()
            if copied:
                self.root.mkdir(parents=True, exist_ok=True)
                staging = self.root / f".{name}.installing"
                shutil.rmtree(staging, ignore_errors=True)
                # Symlinks are followed (the registry holds real files); a training run's resume
                # checkpoints are not part of the model.
                shutil.copytree(folder, staging, ignore=shutil.ignore_patterns(CHECKPOINTS_DIR))
                freeze(staging)
                os.replace(staging, target)  # appears whole or not at all
        if promote or (promote is None and self._default_target() is None):
            self.promote(name)
        return self.get(name), copied

    def history(self) -> list[dict[str, Any]]:
        path = self.root / HISTORY
        if not path.is_file():
            return []
        records = []
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                record = None
            if not isinstance(record, dict) or "to" not in record:
                raise ModelError(f"{path}:{number}: not a history record; mend or delete that line")
            records.append(record)
        return records


def freeze(path: Path) -> None:
    """Make a saved model directory read-only: registered versions are immutable."""
    for file in path.rglob("*"):
        if file.is_file():
            file.chmod(file.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


ARCHIVES = (".tar.gz", ".tgz", ".tar", ".zip")


def _model_source(source: str, scratch: Path, on_bytes: Callable[[int, int | None], None]) -> Path:
    """The model folder ``source`` names: itself, or unpacked into ``scratch`` from a local or downloaded archive."""
    if source.startswith(("http://", "https://")):
        archive = scratch / ("download" + next((s for s in ARCHIVES if source.split("?")[0].endswith(s)), ".tar.gz"))
        _download(source, archive, on_bytes)
    else:
        archive = Path(source)
        if archive.is_dir():
            return archive.resolve()
        if not archive.exists():
            raise ModelError(f"{source}: no such model folder or archive")
    import tarfile
    import zipfile

    unpacked = scratch / "unpacked"
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(unpacked)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(unpacked, filter="data")  # refuses absolute paths, .. and device files
    except (OSError, EOFError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{source}: not a readable .tar.gz or .zip archive of a model folder ({str(exc).splitlines()[0]})") from None
    found = sorted(meta.parent for meta in unpacked.rglob(META_FILE))
    if len(found) != 1:
        raise ModelError(f"{source}: the archive must hold one model folder (one {META_FILE}); found {len(found)}")
    return found[0]


def _download(url: str, dest: Path, on_bytes: Callable[[int, int | None], None]) -> None:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            done = 0
            while block := response.read(1 << 20):
                out.write(block)
                done += len(block)
                on_bytes(done, total)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ModelError(f"{url}: download failed ({getattr(exc, 'reason', None) or exc})") from None
