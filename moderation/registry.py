"""A folder of immutable, versioned model directories with a ``default`` pointer.

``default`` is a relative symlink that :func:`promote` and :func:`rollback` swap with one
atomic ``rename``: a crash mid-promotion leaves either the old or the new target, never
a broken pointer. Every switch is appended to ``history.jsonl``.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moderation.errors import GateError, ModelError
from moderation.model import META_FILE, WEIGHTS_FILE, default_models_dir, read_meta

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
