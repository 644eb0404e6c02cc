"""Structured logs: one JSON object per line, for the service and for uvicorn itself.

Comment text is never logged unless ``Settings.log_text`` is on; request paths are logged
without their query string because Perspective clients put the API key there (``?key=``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

LOGGER = "moderation.service"
#: LogRecord attributes that are not user fields.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "pid", "msg", ...extra fields}`` on one line (pid: which worker)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def log_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: every logger writes JSON to stderr."""
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            # uvicorn's access log prints the query string (and so ?key=): ours replaces it.
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            LOGGER: {"handlers": ["stderr"], "level": level, "propagate": False},
        },
    }


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER)
