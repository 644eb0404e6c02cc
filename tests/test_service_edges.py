"""Service edges found by a new user (issue 19): empty comments, 401 before 413, a /metrics token,
and metrics on prometheus_client that one scrape sums over ``--workers 2``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("prometheus_client")

from tests.test_service import envelope, free_port, metric, post, samples, serving  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The metric families the service has always exposed (names are part of users' dashboards).
METRIC_NAMES = {
    "moderation_requests", "moderation_request_duration_seconds", "moderation_batch_size",
    "moderation_batch_duration_seconds", "moderation_comments_scored", "moderation_flagged", "moderation_rejected",
    "moderation_coral_decisions", "moderation_queue_depth", "moderation_model_info",
}


@pytest.fixture(scope="module")
def tiny_moderator(tiny_model_dir: Path) -> Any:
    from moderation.model import Moderator

    return Moderator.load(tiny_model_dir)


def error_type(response: httpx.Response) -> str | None:
    details = response.json()["error"].get("details") or [{}]
    return details[0].get("errorType")


def test_an_empty_comment_is_400_comment_empty_on_both_endpoints(tiny_moderator: Any) -> None:
    with serving(tiny_moderator) as s:
        r = post(s, "/v1/score", {"comments": [{"id": "a", "text": "fine"}, {"id": "b", "text": "  \n"}]})
        assert "comments.1.text is empty" in envelope(r, 400) and error_type(r) == "COMMENT_EMPTY"
        r = post(s, "/v1alpha1/comments:analyze", {"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}})
        assert envelope(r, 400) and error_type(r) == "COMMENT_EMPTY"
        r = post(s, "/v1alpha1/comments:analyze", {"comment": {"text": "<p> </p>", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}})
        assert error_type(r) == "COMMENT_EMPTY"
        assert post(s, "/v1/score", {"comments": [{"id": "a", "text": "fine"}]}).status_code == 200


def test_an_unauthenticated_client_gets_401_before_any_limit(tiny_moderator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_API_KEY", "k3y")
    big = {"comments": [{"id": "1", "text": "x" * 5_000}]}
    analyze = {"comment": {"text": "y" * 5_000}, "requestedAttributes": {"TOXICITY": {}}}

    def chunked() -> Iterator[bytes]:  # no Content-Length
        yield b'{"comments": [{"id": "1", "text": "' + b"z" * 5_000 + b'"}]}'

    with serving(tiny_moderator, api_key_env="EDGE_API_KEY", max_body_bytes=1_000) as s:
        assert "missing API key" in envelope(post(s, "/v1/score", big), 401)
        assert envelope(post(s, "/v1/score", big, headers={"X-API-Key": "wrong"}), 401) == "invalid API key"
        assert envelope(post(s, "/v1/score", content=chunked()), 401)
        assert envelope(post(s, "/v1alpha1/comments:analyze", analyze), 401)
        # With the key, the limit is what stops it.
        assert "max_body_bytes" in envelope(post(s, "/v1/score", big, headers={"X-API-Key": "k3y"}), 413)
        assert "max_body_bytes" in envelope(post(s, "/v1alpha1/comments:analyze?key=k3y", analyze), 413)


def test_metrics_token_is_off_by_default_and_a_bearer_token_when_set(tiny_moderator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EDGE_API_KEY", "k3y")
    monkeypatch.setenv("EDGE_METRICS_TOKEN", "m3trics")
    with serving(tiny_moderator, api_key_env="EDGE_API_KEY") as s:
        assert httpx.get(s.url + "/metrics").status_code == 200  # Prometheus scrapers expect an open endpoint
    with serving(tiny_moderator, metrics_token_env="EDGE_METRICS_TOKEN") as s:
        r = httpx.get(s.url + "/metrics")
        assert "metrics token" in envelope(r, 401) and r.headers["www-authenticate"] == "Bearer"
        assert httpx.get(s.url + "/metrics", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(s.url + "/metrics", headers={"X-API-Key": "m3trics"}).status_code == 401
        ok = httpx.get(s.url + "/metrics", headers={"Authorization": "Bearer m3trics"})
        assert ok.status_code == 200 and "moderation_requests_total" in ok.text
        assert httpx.get(s.url + "/healthz").status_code == 200


def test_the_cli_refuses_an_unset_metrics_token_variable(tiny_model_dir: Path) -> None:
    from typer.testing import CliRunner

    from moderation.cli import app

    result = CliRunner().invoke(app, ["serve", "--model", str(tiny_model_dir), "--metrics-token-env", "EDGE_NOT_SET_ANYWHERE"])
    assert result.exit_code == 2 and "--metrics-token-env EDGE_NOT_SET_ANYWHERE: that environment variable is not set" in result.output


def test_a_scrape_keeps_the_metric_names(tiny_moderator: Any) -> None:
    with serving(tiny_moderator) as s:
        post(s, "/v1/score", {"comments": [{"id": "1", "text": "one"}]})
        text = httpx.get(s.url + "/metrics").text
    from prometheus_client.parser import text_string_to_metric_families

    assert {family.name for family in text_string_to_metric_families(text)} == METRIC_NAMES
    assert metric(text, "moderation_requests_total", endpoint="/v1/score", code="200") == 1
    assert metric(text, "moderation_batch_size_count") == 1


# --- two workers, one scrape ------------------------------------------------------------------------


def _stale_counters(directory: Path) -> None:
    """A previous run's counter file in the multiprocess directory, as a crashed run would leave it."""
    code = ("from prometheus_client import Counter; "
            "Counter('moderation_requests', 'x', ('endpoint', 'code')).labels('/v1/score', '200').inc(1000)")
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}, check=True)
    assert list(directory.glob("*.db"))


def test_metrics_sum_both_workers(tiny_model_dir: Path, tmp_path: Path) -> None:
    directory = tmp_path / "prom"
    directory.mkdir()
    _stale_counters(directory)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    cmd = [sys.executable, "-m", "moderation.cli", "serve", "--model", str(tiny_model_dir), "--port", str(port),
           "--workers", "2", "--feedback-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    logs: list[dict[str, Any]] = []  # the service's JSON log lines, read as they come

    def read_logs() -> None:
        for line in proc.stderr:
            if line.startswith("{"):
                logs.append(json.loads(line))

    reader = threading.Thread(target=read_logs, daemon=True)
    reader.start()
    url = f"http://127.0.0.1:{port}"
    sent = 0
    try:
        deadline = time.monotonic() + 300  # two model loads on a busy 2-core machine
        while len({line["pid"] for line in list(logs) if line.get("event") == "ready"}) < 2:  # logged once per worker
            assert proc.poll() is None, "serve exited early"
            assert time.monotonic() < deadline, "workers never became ready"
            time.sleep(0.2)
        body = {"comments": [{"id": "1", "text": "two workers, one count"}, {"id": "2", "text": "and another"}]}
        for _ in range(40):  # a new connection each time, so the kernel spreads them over both workers
            assert httpx.post(url + "/v1/score", json=body, timeout=60).status_code == 200
            sent += 1
        for _ in range(6):  # whichever worker answers the scrape reports the sum over both
            text = httpx.get(url + "/metrics", timeout=60).text
            assert metric(text, "moderation_requests_total", endpoint="/v1/score", code="200") == sent
            assert metric(text, "moderation_comments_scored_total") == 2 * sent
            assert metric(text, "moderation_model_info", model="tiny@0.0.1") == 1
            assert metric(text, "moderation_queue_depth") == 0
            assert {s.name for s in samples(text)} >= {"moderation_request_duration_seconds_count", "moderation_batch_size_bucket"}
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        reader.join(timeout=10)
    served_by = {line["pid"] for line in logs if line.get("event") == "request"}
    assert len(served_by) == 2, f"all {sent} requests went to one worker; the sum was not exercised"
