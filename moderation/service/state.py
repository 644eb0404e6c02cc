"""The running service: model, batcher and metrics, and the one scoring call every endpoint uses.

The model loads during application startup, before uvicorn accepts connections: with
several workers on one socket, a worker that accepted while still loading would answer
503 to requests its siblings could serve. A model that fails to load stops startup.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import numpy as np
from fastapi import Request

from moderation.errors import ModerationError
from moderation.service.batcher import Batcher, QueueFull
from moderation.service.http import ApiError
from moderation.service.logs import get_logger
from moderation.service.metrics import Metrics
from moderation.service.settings import FORWARD_BATCH, Settings

#: Retry-After while draining: the client should try another instance or come back.
DRAINING_RETRY_S = 5


class ServiceState:
    """Shared by all requests of one worker process (``app.state.service``)."""

    def __init__(self, settings: Settings, moderator: Any | None = None):
        self.settings = settings
        self.metrics = Metrics()
        self.log = get_logger()
        self.moderator: Any | None = None
        self.batcher: Batcher | None = None
        self.draining = False
        self.api_key = settings.secret(settings.api_key_env)
        self.coral_secret = settings.secret(settings.coral_secret_env)
        self.metrics_token = settings.secret(settings.metrics_token_env) if settings.metrics_token_env else None
        self._given = moderator

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._given is not None:
            self._attach(self._given)
            return
        try:
            moderator = await asyncio.to_thread(self._load)
        except ModerationError as exc:  # one readable line before uvicorn's traceback and exit
            self.log.error(str(exc), extra={"event": "model_error"})
            raise
        self._attach(moderator)

    async def stop(self) -> None:
        self.draining = True
        if self.batcher is not None:
            await self.batcher.stop()
        self.metrics.process_exited()
        self.log.info("stopped", extra={"event": "shutdown"})

    def _load(self) -> Any:
        from moderation.model import Moderator

        if self.settings.torch_threads:
            import torch

            torch.set_num_threads(self.settings.torch_threads)
        return Moderator.load(self.settings.model_dir, backend=self.settings.backend)

    def _attach(self, moderator: Any) -> None:
        moderator.thresholds = {**moderator.thresholds, **self.settings.thresholds}
        moderator.batch_size = self.settings.forward_batch or FORWARD_BATCH[moderator.backend]
        self.moderator = moderator
        self._cutoffs = np.array([moderator.thresholds[label] for label in moderator.labels])
        s = self.settings
        self.batcher = Batcher(
            moderator.predict_proba,
            max_batch=s.max_batch,
            max_wait_s=s.max_wait_ms / 1000,
            max_queue=s.queue_size,
            on_batch=self._observe_batch,
            on_depth=self.metrics.queue_depth.set,
        )
        self.batcher.start()
        self.metrics.model_info.labels(moderator.name).set(1)
        self.log.info("ready", extra={"event": "ready", "model": moderator.name, "backend": moderator.backend_choice.describe()})
        if moderator.backend_choice.note:
            self.log.warning(moderator.backend_choice.note, extra={"event": "slow_backend"})

    # --- scoring -----------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        return self.batcher is not None and self.batcher.running and not self.draining

    @property
    def model_name(self) -> str | None:
        return self.moderator.name if self.moderator is not None else None

    @property
    def backend(self) -> dict[str, Any] | None:
        """What the model runs on and why, with the rule ``auto`` follows (for /readyz)."""
        return self.moderator.backend_choice.to_dict() if self.moderator is not None else None

    async def score(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, shape (len(texts), labels); 503 when not ready or full, 504 on timeout."""
        if not self.ready or self.batcher is None:
            raise ApiError(503, "shutting down", {"Retry-After": str(DRAINING_RETRY_S)})
        timeout = self.settings.timeout_s
        try:
            rows = await asyncio.wait_for(self.batcher.score(texts), timeout)
        except QueueFull as exc:
            self.metrics.rejected.labels("queue_full").inc()
            raise ApiError(
                503, f"overloaded: the scoring queue is full (queue_size {self.settings.queue_size}); retry later",
                {"Retry-After": str(exc.retry_after)},
            ) from None
        except asyncio.TimeoutError:
            self.metrics.rejected.labels("timeout").inc()
            raise ApiError(504, f"scoring took longer than the {timeout:g}s request timeout (timeout_s)") from None
        if self.settings.log_text:
            self.log.info("scored", extra={"event": "scored", "texts": list(texts)})
        return np.vstack(rows) if rows else np.zeros((0, len(self.moderator.labels)))

    def _observe_batch(self, probs: np.ndarray, seconds: float) -> None:
        m = self.metrics
        m.batch_size.observe(len(probs))
        m.batch_seconds.observe(seconds)
        m.comments.inc(len(probs))
        for label, hits in zip(self.moderator.labels, (probs >= self._cutoffs).sum(axis=0)):
            if hits:
                m.flagged.labels(label).inc(float(hits))


def get_state(request: Request) -> ServiceState:
    return request.app.state.service
