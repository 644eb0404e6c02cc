"""Which backend ``auto`` runs: bf16 where the CPU executes bf16 matrix products natively, else fp32.

The rule (``RULE``): AMX-BF16 tiles -> bf16. AVX-512 BF16 (AMD Zen 4/5, Intel Cooper Lake) or
Arm BF16 -> "maybe": a short micro-benchmark of one fp32 against one bf16 matrix product at the
model's feed-forward shape decides, and the verdict is cached per machine. No bf16 flag -> fp32,
without measuring (there bf16 is emulated by conversions around fp32 arithmetic).

Torch is imported only when the micro-benchmark runs, so ``import moderation`` stays light.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: ``MODERATION_CPU_CACHE``: the cache file's path, or ``off`` to measure every time.
CACHE_ENV = "MODERATION_CPU_CACHE"
#: Shown when bf16 is requested where it is emulated (on an AVX2-only AMD EPYC, scoring 200 comments
#: took about 3x as long as fp32: docs/speed.md).
EMULATED_NOTE = ("note: this CPU has no bf16 instructions, so --backend bf16 is emulated and slower than fp32; "
                 "use --backend auto or torch")

#: On "maybe" CPUs, bf16 is chosen when its matrix product is at least this many times faster.
#: Where bf16 is native the measured ratio is 3-4x; emulated bf16 is slower than fp32 (< 1x).
MIN_SPEEDUP = 1.3
#: Rows of the benchmark product: 16 comments of 32 tokens (the fp32 service sub-batch of short comments).
BENCH_ROWS = 512
#: Interleaved fp32/bf16 rounds; the fastest of each is kept (slower ones measure cache misses and interrupts).
BENCH_ROUNDS = 7
#: A bf16 product further than this from fp32 (relative to its largest entry) means a broken kernel.
MAX_REL_ERROR = 0.05
NATIVE_FLAGS = ("amx_bf16",)  # matrix tiles: bf16 always wins
MAYBE_FLAGS = ("avx512_bf16", "bf16")  # x86 AVX-512 BF16, Arm BF16 ("Features: ... bf16")
RULE = (f"bf16 with AMX-BF16; with AVX-512 BF16 or Arm BF16, bf16 only if a bf16 matrix product at the "
        f"model's shape measures >= {MIN_SPEEDUP}x fp32 (cached per machine); otherwise torch (fp32)")


@dataclass(frozen=True)
class BackendChoice:
    """The backend a model runs on, and why (shown by ``score --verbose`` and ``/readyz``)."""

    backend: str  # "torch" or "bf16"
    requested: str  # what the user asked for: "auto", "torch" or "bf16"
    reason: str
    cpu: str = ""
    flags: list[str] = field(default_factory=list)  # the bf16-related CPU flags found
    measured: dict[str, float] | None = None  # the micro-benchmark, when one decided
    cached: bool = False  # the micro-benchmark's verdict came from the cache
    emulated: bool = False  # bf16 requested on a CPU without bf16 instructions: slower than fp32

    @property
    def note(self) -> str:
        """A one-line warning worth showing without ``--verbose``, or ""."""
        return EMULATED_NOTE if self.emulated else ""

    def to_dict(self) -> dict[str, Any]:
        return dict(asdict(self), rule=RULE)

    def describe(self) -> str:
        """One line: ``bf16 (auto: ...)``."""
        if self.requested != "auto":
            return f"{self.backend} (requested{'; emulated here' if self.emulated else ''})"
        return f"{self.backend} (auto: {self.reason})"


def cpu_info() -> tuple[str, frozenset[str]]:
    """(CPU model name, its feature flags) from /proc/cpuinfo; ("", {}) where it cannot be read."""
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "model name" and not model:
                    model = value.strip()
                elif key in ("flags", "features") and not flags:  # x86, Arm
                    flags = frozenset(value.split())
                if model and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def has_bf16_matrix_units(flags: frozenset[str] | None = None) -> bool:
    """True on CPUs with AMX-BF16 tiles (Intel Sapphire Rapids and later): bf16 runs 2.5-3x faster there."""
    flags = cpu_info()[1] if flags is None else flags
    return any(f in flags for f in NATIVE_FLAGS)


def bf16_flags(flags: frozenset[str]) -> list[str]:
    return sorted(f for f in (*NATIVE_FLAGS, *MAYBE_FLAGS) if f in flags)


def matmul_speedup(hidden: int, intermediate: int, rows: int = BENCH_ROWS, rounds: int = BENCH_ROUNDS) -> dict[str, float]:
    """fp32 vs bf16-autocast CPU time of one (rows, hidden) x (hidden, intermediate) product, fastest of ``rounds``.

    Autocast with fp32 weights, as ``Moderator._bf16_forward`` runs it, so the cost of casting
    counts. One torch thread, timed by its own CPU clock: on a busy machine, wall-clock timings
    of a multi-threaded product measure the scheduler (one descheduled thread stalls the rest;
    measured: 3 ms products taking 450-740 ms and the verdict flipping), while the CPU time one
    thread spends on it does not depend on what else runs. Also checks the bf16 result against
    fp32 (a broken kernel must not win on speed).
    """
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(rows, hidden, generator=gen)
    w = torch.randn(intermediate, hidden, generator=gen) / hidden**0.5
    b = torch.zeros(intermediate)

    def timed(bf16: bool) -> tuple[float, torch.Tensor]:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            start = time.thread_time()
            out = F.linear(x, w, b)
            return time.thread_time() - start, out.float()

    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the product then runs on this thread, which thread_time measures
    try:
        _, want = timed(False)  # warm-up: oneDNN builds its kernels on the first call of each kind
        _, got = timed(True)
        fp32, bf16 = [], []
        for _ in range(rounds):
            fp32.append(timed(False)[0])
            bf16.append(timed(True)[0])
    finally:
        torch.set_num_threads(threads)
    error = float((got - want).abs().max() / want.abs().max())
    return {"fp32_ms": round(min(fp32) * 1e3, 3), "bf16_ms": round(min(bf16) * 1e3, 3),
            "speedup": round(min(fp32) / min(bf16), 2), "rel_error": round(error, 4),
            "shape": f"({rows}, {hidden}) x ({hidden}, {intermediate})", "cpu_seconds": round(sum(fp32) + sum(bf16), 3),
            "seconds": round(time.perf_counter() - started, 3)}  # wall clock, warm-up included


def cache_path() -> Path | None:
    """Where verdicts are kept: $MODERATION_CPU_CACHE, else $XDG_CACHE_HOME/moderation/cpu.json; None if ``off``."""
    env = os.environ.get(CACHE_ENV, "")
    if env.lower() in ("off", "0", "none", "false"):
        return None
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "moderation" / "cpu.json"


def _read_cache(path: Path) -> dict[str, Any]:
    """The cache's entries; a missing, unreadable or corrupt file is an empty cache."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, key: str, entry: dict[str, Any]) -> None:
    """Add one entry; a read-only home only costs a re-measurement next time."""
    entries = _read_cache(path)
    entries[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)  # atomic: parallel processes (service workers, Spark executors) never see half a file
    except OSError:
        pass


def _cache_key(cpu: str, flags: frozenset[str], hidden: int, intermediate: int) -> str:
    import torch

    parts = [cpu, " ".join(sorted(flags)), torch.__version__, f"{hidden}x{intermediate}"]  # one-thread verdict: any thread count
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def choose_backend(requested: str = "auto", hidden: int = 384, intermediate: int | None = None) -> BackendChoice:
    """What ``requested`` runs on here (see ``RULE``); ``hidden``/``intermediate``: the model's feed-forward shape."""
    if requested not in ("auto", "bf16"):
        return BackendChoice(requested, requested, "requested")
    cpu, flags = cpu_info()
    found = bf16_flags(flags)
    if requested == "bf16":
        return BackendChoice("bf16", "bf16", "requested", cpu, found, emulated=not found)
    if has_bf16_matrix_units(flags):
        return BackendChoice("bf16", "auto", "AMX-BF16 matrix units", cpu, found)
    if not found:
        return BackendChoice("torch", "auto", "no bf16 instructions (bf16 would be emulated)", cpu, found)
    intermediate = intermediate or 4 * hidden
    path = cache_path()
    key = _cache_key(cpu, flags, hidden, intermediate)
    entry = _read_cache(path).get(key) if path else None
    cached = isinstance(entry, dict) and isinstance(entry.get("speedup"), (int, float))
    if not cached:
        entry = matmul_speedup(hidden, intermediate)
        if path:
            _write_cache(path, key, dict(entry, cpu=cpu))
    measured = {k: v for k, v in entry.items() if k != "cpu"}
    speedup = float(entry["speedup"])
    accurate = float(entry.get("rel_error", 0)) < MAX_REL_ERROR
    fast = speedup >= MIN_SPEEDUP and accurate
    verdict = f"{'>=' if speedup >= MIN_SPEEDUP else '<'} {MIN_SPEEDUP}x" + ("" if accurate else ", but its result is off")
    reason = (f"{', '.join(found)} without AMX; bf16 matmul {speedup:.2f}x fp32 at {entry.get('shape', '?')} "
              f"({verdict}; {'cached' if cached else 'measured'})")
    return BackendChoice("bf16" if fast else "torch", "auto", reason, cpu, found, measured, cached)
