"""``auto``'s backend choice: CPU flags, the bf16 micro-benchmark and its per-machine cache (flags and timings mocked)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from moderation import cpu
from moderation.cli import app
from moderation.model import Moderator

ZEN4 = frozenset("fpu sse2 avx2 avx512f avx512bw avx512_bf16 avx512_vnni".split())
SAPPHIRE = frozenset("fpu sse2 avx2 avx512f avx512_bf16 amx_bf16 amx_tile".split())
ZEN3 = frozenset("fpu sse2 avx2 fma".split())
GRAVITON3 = frozenset("fp asimd sve bf16 i8mm".split())


class FakeBench:
    """Stands in for the micro-benchmark: a fixed verdict, and a count of how often it ran."""

    def __init__(self, speedup: float, rel_error: float = 0.003):
        self.speedup, self.rel_error, self.calls = speedup, rel_error, 0

    def __call__(self, hidden: int, intermediate: int, **kw: Any) -> dict[str, Any]:
        self.calls += 1
        return {"fp32_ms": 3.0, "bf16_ms": 3.0 / self.speedup, "speedup": self.speedup, "rel_error": self.rel_error,
                "shape": f"(512, {hidden}) x ({hidden}, {intermediate})", "seconds": 0.05}


@pytest.fixture
def machine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """``machine(flags, speedup)`` mocks the CPU and the micro-benchmark; the cache is a fresh file."""
    monkeypatch.setenv(cpu.CACHE_ENV, str(tmp_path / "cpu.json"))

    def mock(flags: frozenset[str], speedup: float = 1.0, rel_error: float = 0.003, model: str = "Test CPU") -> FakeBench:
        bench = FakeBench(speedup, rel_error)
        monkeypatch.setattr(cpu, "cpu_info", lambda: (model, flags))
        monkeypatch.setattr(cpu, "matmul_speedup", bench)
        return bench

    return mock


def test_without_bf16_instructions_auto_stays_fp32_without_measuring(machine, tmp_path: Path) -> None:
    bench = machine(ZEN3, speedup=10.0)  # even a (mocked) fast bf16 matmul must not be consulted
    choice = cpu.choose_backend("auto", 384, 1536)
    assert (choice.backend, choice.flags, choice.measured) == ("torch", [], None)
    assert "no bf16 instructions" in choice.reason
    assert bench.calls == 0 and not (tmp_path / "cpu.json").exists()


def test_amx_picks_bf16_without_measuring(machine) -> None:
    bench = machine(SAPPHIRE, speedup=0.5)
    choice = cpu.choose_backend("auto", 384)
    assert choice.backend == "bf16" and "AMX" in choice.reason and bench.calls == 0


@pytest.mark.parametrize("flags", [ZEN4, GRAVITON3], ids=["avx512_bf16", "arm_bf16"])
@pytest.mark.parametrize(("speedup", "expected"), [(2.9, "bf16"), (1.1, "torch"), (0.6, "torch")])
def test_avx512_bf16_follows_the_micro_benchmark(machine, flags: frozenset[str], speedup: float, expected: str) -> None:
    bench = machine(flags, speedup)
    choice = cpu.choose_backend("auto", 384, 1536)
    assert choice.backend == expected and bench.calls == 1
    assert choice.measured is not None and choice.measured["speedup"] == speedup and not choice.cached
    assert f"{speedup:.2f}x fp32" in choice.reason and choice.to_dict()["rule"] == cpu.RULE


def test_a_fast_but_wrong_bf16_kernel_is_not_chosen(machine) -> None:
    machine(ZEN4, speedup=3.0, rel_error=0.5)
    choice = cpu.choose_backend("auto", 384)
    assert choice.backend == "torch" and "off" in choice.reason


def test_the_verdict_is_cached_per_machine_and_shape(machine, tmp_path: Path) -> None:
    bench = machine(ZEN4, speedup=2.5)
    first = cpu.choose_backend("auto", 384, 1536)
    second = cpu.choose_backend("auto", 384, 1536)
    assert bench.calls == 1 and (first.cached, second.cached) == (False, True)
    assert first.backend == second.backend == "bf16" and second.measured == first.measured
    cpu.choose_backend("auto", 768, 3072)  # another model shape: measured again
    assert bench.calls == 2
    machine(ZEN4 | {"avx512_fp16"}, speedup=0.8)  # another machine (flags differ) sharing the cache file
    assert cpu.choose_backend("auto", 384, 1536).backend == "torch"
    entries = json.loads((tmp_path / "cpu.json").read_text())
    assert len(entries) == 3 and {e["speedup"] for e in entries.values()} == {2.5, 0.8}


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"k": "v"}', "\xff\xfe"])
def test_a_corrupt_cache_is_ignored_and_rewritten(machine, tmp_path: Path, content: str) -> None:
    (tmp_path / "cpu.json").write_text(content, encoding="latin-1")
    bench = machine(ZEN4, speedup=2.0)
    assert cpu.choose_backend("auto", 384).backend == "bf16" and bench.calls == 1
    assert cpu.choose_backend("auto", 384).cached and bench.calls == 1


def test_cache_off_measures_every_time(machine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bench = machine(ZEN4, speedup=2.0)
    monkeypatch.setenv(cpu.CACHE_ENV, "off")
    assert cpu.cache_path() is None
    cpu.choose_backend("auto", 384)
    cpu.choose_backend("auto", 384)
    assert bench.calls == 2 and not list(tmp_path.iterdir())


def test_default_cache_path_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cpu.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cpu.cache_path() == tmp_path / "moderation" / "cpu.json"


def test_an_explicit_backend_is_never_second_guessed(machine) -> None:
    bench = machine(ZEN3)
    assert cpu.choose_backend("bf16").backend == "bf16" and cpu.choose_backend("torch").backend == "torch"
    assert bench.calls == 0


def test_resolve_backend_is_the_entry_point_and_returns_a_name(machine) -> None:
    from moderation.errors import ModelError
    from moderation.model import resolve_backend

    machine(ZEN4, speedup=2.0)
    assert (resolve_backend("auto", 384, 1536), resolve_backend("torch"), resolve_backend("bf16")) == ("bf16", "torch", "bf16")
    machine(ZEN3)
    assert resolve_backend("auto") == "torch"
    with pytest.raises(ModelError, match="unknown backend 'onnx'"):
        resolve_backend("onnx")


def test_the_real_micro_benchmark_is_short_and_agrees_with_fp32() -> None:
    result = cpu.matmul_speedup(64, 256, rows=128, rounds=3)
    assert result["fp32_ms"] > 0 and result["bf16_ms"] > 0 and result["speedup"] > 0
    assert result["rel_error"] < cpu.MAX_REL_ERROR and result["seconds"] < 5


def test_cpu_info_reads_this_machine() -> None:
    model, flags = cpu.cpu_info()
    assert isinstance(model, str) and model
    if Path("/proc/cpuinfo").is_file():
        assert flags  # every Linux CPU lists some flags


def test_the_model_runs_on_what_auto_chose_and_says_why(machine, tiny_model_dir: Path, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from moderation.service.app import create_app
    from moderation.service.settings import Settings

    bench = machine(ZEN4, speedup=2.2, model="AMD EPYC 9654")
    model = Moderator.load(tiny_model_dir)
    assert model.backend == "bf16" and model._runner == model._bf16_forward
    assert model.backend_choice.measured["shape"] == "(512, 32) x (32, 64)"  # the tiny model's own shape
    with TestClient(create_app(Settings(model_dir=str(tiny_model_dir)))) as client:
        backend = client.get("/readyz").json()["backend"]
    assert backend["backend"] == "bf16" and backend["requested"] == "auto" and backend["cpu"] == "AMD EPYC 9654"
    assert backend["cached"] and "avx512_bf16 without AMX" in backend["reason"] and backend["rule"] == cpu.RULE
    assert bench.calls == 1  # the service reused the verdict the first load cached

    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "You are a fool."}\n')
    machine(ZEN3)
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir), "-v"])
    assert result.exit_code == 0, result.output
    assert "backend torch (auto: no bf16 instructions (bf16 would be emulated)); CPU Test CPU; auto's rule: bf16 with AMX" in result.stderr
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "p.jsonl"), "--model", str(tiny_model_dir), "-v",
                                      "--backend", "bf16"])
    assert "backend bf16 (requested; emulated here)\n" in result.stderr  # machine(ZEN3): no bf16 instructions


def test_requesting_bf16_where_it_is_emulated_warns_but_runs(machine, tiny_model_dir: Path, tmp_path: Path) -> None:
    machine(ZEN3)
    choice = cpu.choose_backend("bf16")
    assert (choice.backend, choice.emulated, choice.note) == ("bf16", True, cpu.EMULATED_NOTE)
    assert choice.describe() == "bf16 (requested; emulated here)"
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "You are a fool."}\n')
    result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "o.jsonl"), "--model", str(tiny_model_dir),
                                      "--backend", "bf16"])
    assert result.exit_code == 0 and (tmp_path / "o.jsonl").read_text().count("\n") == 1
    assert cpu.EMULATED_NOTE in result.stderr

    for flags in (ZEN4, SAPPHIRE, GRAVITON3):  # bf16 instructions: a request for bf16 is taken silently
        machine(flags)
        assert not cpu.choose_backend("bf16").emulated
        result = CliRunner().invoke(app, ["score", str(src), "-o", str(tmp_path / "p.jsonl"), "--model", str(tiny_model_dir),
                                          "--backend", "bf16"])
        assert result.exit_code == 0 and cpu.EMULATED_NOTE not in result.stderr
    assert cpu.choose_backend("torch").note == ""


def test_the_service_warns_once_when_bf16_is_requested_where_it_is_emulated(machine, tiny_model_dir: Path) -> None:
    import logging

    from fastapi.testclient import TestClient

    from moderation.service.app import create_app
    from moderation.service.logs import get_logger
    from moderation.service.settings import Settings

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    handler = Collect()
    get_logger().addHandler(handler)
    try:
        for flags, backend in ((ZEN3, "bf16"), (ZEN3, "auto"), (ZEN4, "bf16")):
            machine(flags, speedup=2.0)
            with TestClient(create_app(Settings(model_dir=str(tiny_model_dir), backend=backend))) as client:
                assert client.get("/readyz").json()["backend"]["emulated"] is (flags == ZEN3 and backend == "bf16")
    finally:
        get_logger().removeHandler(handler)
    assert handler.messages.count(cpu.EMULATED_NOTE) == 1  # only ZEN3 with bf16 requested
