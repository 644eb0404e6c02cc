"""Micro-batching: comments from concurrent requests are merged into shared forward passes.

Requests put their comments on one bounded queue and await a future. A single worker
takes up to ``max_batch`` comments, waiting at most ``max_wait_s`` for more to arrive
when fewer are queued, and runs the forward pass on a dedicated thread so the event loop
keeps accepting requests meanwhile. Comments that arrive during a forward pass form the
next batch, so batches grow with load. A request whose comments do not fit in the queue
is refused at once (``QueueFull``); memory is bounded by ``max_queue`` comments.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

Predict = Callable[[list[str]], np.ndarray]
OnBatch = Callable[[np.ndarray, float], None]
OnDepth = Callable[[int], None]


class QueueFull(Exception):
    """The queue cannot take the request now; ``retry_after`` estimates when it could (seconds)."""

    def __init__(self, retry_after: int):
        super().__init__(f"queue full, retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass
class _Job:
    """One request's comments: rows are filled in as batches finish."""

    future: asyncio.Future
    rows: list[np.ndarray | None]
    remaining: int = field(init=False)

    def __post_init__(self) -> None:
        self.remaining = len(self.rows)


class Batcher:
    def __init__(self, predict: Predict, *, max_batch: int, max_wait_s: float, max_queue: int, on_batch: OnBatch | None = None,
                 on_depth: OnDepth | None = None):
        self.predict = predict
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.on_depth = on_depth or (lambda depth: None)  # told the queue depth whenever it changes
        self._items: deque[tuple[_Job, int, str]] = deque()
        self._arrived = asyncio.Event()
        self._task: asyncio.Task | None = None
        # One thread: the model serialises forwards anyway, and torch already uses every core.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forward")
        self._rate = 0.0  # comments/s, smoothed; drives Retry-After

    @property
    def depth(self) -> int:
        """Comments waiting for a forward pass."""
        return len(self._items)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still queued fail (uvicorn has already drained in-flight ones)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        while self._items:
            job = self._items.popleft()[0]
            if not job.future.done():
                job.future.set_exception(RuntimeError("service shutting down"))
        self._executor.shutdown(wait=False)

    async def score(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Probability rows for ``texts``, in order. Cancelling the caller drops its queued comments."""
        if not texts:
            return []
        if len(self._items) + len(texts) > self.max_queue:
            raise QueueFull(self.retry_after(len(texts)))
        job = _Job(asyncio.get_running_loop().create_future(), [None] * len(texts))
        self._items.extend((job, i, text) for i, text in enumerate(texts))
        self.on_depth(len(self._items))
        self._arrived.set()
        return await job.future

    def retry_after(self, extra: int = 0) -> int:
        """Seconds until the current queue (plus ``extra``) should have drained, at least 1."""
        if self._rate <= 0:
            return 1
        return max(1, min(60, math.ceil((len(self._items) + extra) / self._rate)))

    # --- worker ----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self._items:
                self._arrived.clear()
                await self._arrived.wait()
            await self._gather(loop)
            batch = self._take()
            if batch:
                await self._forward(loop, batch)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait up to ``max_wait_s`` for the batch to fill; never when it is already full."""
        deadline = loop.time() + self.max_wait_s
        while len(self._items) < self.max_batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[tuple[_Job, int, str]]:
        batch = []
        while self._items and len(batch) < self.max_batch:
            item = self._items.popleft()
            if not item[0].future.done():  # skip comments of requests that timed out
                batch.append(item)
        self.on_depth(len(self._items))
        return batch

    async def _forward(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[_Job, int, str]]) -> None:
        start = time.perf_counter()
        try:
            probs = await loop.run_in_executor(self._executor, self.predict, [text for _, _, text in batch])
        except Exception as exc:  # a failed forward fails its requests, not the worker
            for job, _, _ in batch:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        seconds = time.perf_counter() - start
        rate = len(batch) / max(seconds, 1e-6)
        self._rate = rate if self._rate == 0 else 0.8 * self._rate + 0.2 * rate
        if self.on_batch is not None:
            self.on_batch(probs, seconds)
        for (job, index, _), row in zip(batch, probs):
            if job.future.done():
                continue
            job.rows[index] = row
            job.remaining -= 1
            if job.remaining == 0:
                job.future.set_result(job.rows)
