"""Feedback stored as label files: JSONL rows that ``moderation train --data`` reads.

Each row has ``id``, ``text``, ``source`` and every label column, null where the feedback
says nothing (read as "unknown", never as "no"), so all rows of a file share one schema.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from moderation.labels import LABELS


def label_row(text: str, labels: dict[str, float], source: str) -> dict[str, Any]:
    return {"id": f"{source}-{uuid.uuid4().hex[:16]}", "text": text, "source": source,
            **{label: labels.get(label) for label in LABELS}}


def append_row(directory: Path, prefix: str, row: dict[str, Any]) -> Path:
    """Append to ``PREFIX-YYYYMMDD.jsonl`` (UTC) in one write, so concurrent workers never interleave lines."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{prefix}-{time.strftime('%Y%m%d', time.gmtime())}.jsonl"
    line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path
