"""Service configuration: one dataclass, built by the CLI, passed to worker processes as JSON.

Secrets are never stored here, only the *names* of the environment variables that hold
them, so settings can be logged and handed to uvicorn workers without leaking keys.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from moderation.labels import LABELS
from moderation.types import check_backend

#: Environment variable through which ``moderation serve`` hands settings to uvicorn workers.
SETTINGS_ENV = "MODERATION_SERVICE_SETTINGS"
DEFAULT_API_KEY_ENV = "MODERATION_API_KEY"
DEFAULT_CORAL_SECRET_ENV = "MODERATION_CORAL_SECRET"
#: Comment statuses Coral accepts from an external moderation phase.
CORAL_STATUSES = ("NONE", "APPROVED", "PREMOD", "REJECTED", "SYSTEM_WITHHELD")
LOG_LEVELS = ("debug", "info", "warning", "error")


#: Default sub-batch size per backend, from `benchmarks/load_test.py` at 8 clients: on fp32,
#: 16 gave 0.85 of batch throughput and 64 gave 0.75; on bf16 (AMX), 16 gave 0.53 and 64 0.66.
FORWARD_BATCH = {"torch": 16, "bf16": 64}


@dataclass
class Settings:
    """Everything ``create_app`` needs; defaults suit one 2-core machine."""

    model_dir: str | None = None  # None: the shipped default model (models/default)
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    api_key_env: str = DEFAULT_API_KEY_ENV  # if this variable is set, every scoring call needs the key
    coral_secret_env: str = DEFAULT_CORAL_SECRET_ENV
    metrics_token_env: str | None = None  # if set, GET /metrics needs this variable's value as a bearer token
    max_body_bytes: int = 1_000_000
    max_comments: int = 256  # per request; must fit in the queue
    queue_size: int = 2048  # comments waiting for a forward pass, across all requests
    max_batch: int = 64  # comments per forward pass
    # Each forward pass is length-sorted and run in sub-batches of this size: comments from
    # unrelated requests vary in length, and one big padded batch wastes compute.
    forward_batch: int | None = None  # None: FORWARD_BATCH for the model's backend
    max_wait_ms: float = 5.0  # how long the first queued comment waits for company
    timeout_s: float = 30.0  # per request, queueing included
    thresholds: dict[str, float] = field(default_factory=dict)  # overrides of the model's own
    coral_thresholds: dict[str, float] = field(default_factory=lambda: {"hostility": 0.8})
    coral_status: str = "SYSTEM_WITHHELD"
    languages: list[str] | None = None  # what the Perspective endpoint accepts (None: the model's languages)
    feedback_dir: str = "feedback"
    log_text: bool = False
    log_level: str = "info"
    torch_threads: int | None = None  # None: torch's default (all cores)
    backend: str = "auto"  # see Moderator.load

    def validate(self) -> "Settings":
        """Raise ValueError on settings that cannot work together."""
        for name in ("max_body_bytes", "max_comments", "queue_size", "max_batch", "forward_batch", "workers"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_comments > self.queue_size:
            raise ValueError(f"max_comments ({self.max_comments}) must not exceed queue_size ({self.queue_size})")
        if self.timeout_s <= 0 or self.max_wait_ms < 0:
            raise ValueError("timeout_s must be positive and max_wait_ms not negative")
        if self.coral_status not in CORAL_STATUSES:
            raise ValueError(f"coral_status must be one of {', '.join(CORAL_STATUSES)}, not {self.coral_status!r}")
        check_backend(self.backend)
        if self.log_level not in LOG_LEVELS:
            raise ValueError(f"log_level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}")
        labels = self._model_labels()
        for table in (self.thresholds, self.coral_thresholds):
            unknown = sorted(set(table) - set(labels))
            if unknown:
                raise ValueError(f"unknown label(s) {', '.join(unknown)}; the model has: {', '.join(labels)}")
            outside = [f"{label}={value}" for label, value in table.items() if not 0 <= value <= 1]  # NaN fails too
            if outside:
                raise ValueError(f"thresholds are probabilities between 0 and 1, not {', '.join(outside)}")
        return self

    def _model_labels(self) -> list[str]:
        """The served model's labels (a retrained model may add some); the schema's if it cannot be read."""
        from moderation.errors import ModelError
        from moderation.model import model_dir, read_meta

        try:
            return list(read_meta(model_dir(self.model_dir))["labels"])
        except ModelError:
            return list(LABELS)

    def secret(self, env_name: str) -> str | None:
        """The value of a secret-holding variable; empty counts as unset."""
        return os.environ.get(env_name) or None

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @staticmethod
    def parse_label_values(items: list[str]) -> dict[str, float]:
        """``["hostility=0.8", ...]`` (CLI syntax) -> ``{"hostility": 0.8}``; ValueError names the bad item."""
        out: dict[str, float] = {}
        for item in items:
            label, sep, value = item.partition("=")
            try:
                out[label.strip()] = float(value)
            except ValueError:
                sep = ""
            if not sep:
                raise ValueError(f"expected LABEL=NUMBER, got {item!r}")
        return out

    @classmethod
    def from_json(cls, text: str) -> "Settings":
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known}).validate()

    @classmethod
    def from_env(cls) -> "Settings":
        """Settings handed over by ``moderation serve``; defaults when run bare (``uvicorn --factory``)."""
        text = os.environ.get(SETTINGS_ENV)
        return cls.from_json(text) if text else cls().validate()
