"""YAML front matter of Markdown dumps (seed 001): metadata plus the remaining body."""

from __future__ import annotations

import datetime as dt
from typing import Any

from moderation.extract.constants import FRONT_MATTER_RE


def has_front_matter(text: str) -> bool:
    return bool(FRONT_MATTER_RE.match(text))


def _jsonable(value: Any) -> Any:
    """YAML dates and odd keys become strings so the record stays valid JSON."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def split_front_matter(text: str) -> tuple[dict[str, Any], str, str | None]:
    """(metadata, body, warning).  Unparsable YAML is kept as body text with a warning."""
    m = FRONT_MATTER_RE.match(text)
    if not m:
        return {}, text, None
    import yaml  # only Markdown inputs pay for it

    try:
        data = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        return {}, text, f"front matter is not valid YAML ({str(exc).splitlines()[0]}); read as text"
    body = text[m.end():]
    if data is None:
        return {}, body, None
    if not isinstance(data, dict):
        return {"front_matter": _jsonable(data)}, body, None
    return _jsonable(data), body, None
