"""The HTTP service, tested through a real uvicorn server on a loopback port.

Most tests run uvicorn in a thread around an app built with ``create_app`` (one tiny model,
loaded once, shared); one test runs ``moderation serve`` as a subprocess and stops it with
SIGTERM. Outcomes that depend on scores use thresholds of 0.0 / 1.0 so the untrained
tiny model's outputs cannot change them.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

from moderation.labels import LABELS  # noqa: E402
from moderation.service.app import create_app  # noqa: E402
from moderation.service.coral import sign  # noqa: E402
from moderation.service.settings import Settings  # noqa: E402

CORAL_SECRET = "ss_test_secret"
CORAL_BODY = {
    "tenant": {"id": "t1", "domain": "news.example"},
    "action": "NEW",
    "comment": {"body": "<p>You are <b>all</b> idiots.</p>", "parentID": None},
    "author": {"id": "u1", "role": "COMMENTER"},
    "story": {"id": "s1", "url": "https://news.example/story"},
    "site": {"id": "site1"},
}


@pytest.fixture(scope="module")
def tiny_moderator(tiny_model_dir: Path) -> Any:
    from moderation.model import Moderator

    return Moderator.load(tiny_model_dir)


class Slow:
    """A moderator whose forward passes take ``delay`` seconds longer (queue, timeout, drain tests)."""

    def __init__(self, inner: Any, delay: float):
        self.inner, self.delay = inner, delay

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy.copy probes dunders before ``inner`` exists
            raise AttributeError(name)
        return getattr(self.inner, name)

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        time.sleep(self.delay)
        return self.inner.predict_proba(texts)


class Server:
    """uvicorn serving ``app`` in a thread on a free loopback port."""

    def __init__(self, app: Any):
        self.app = app
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True)

    def __enter__(self) -> "Server":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def serving(moderator: Any, **settings: Any) -> Iterator[Server]:
    with Server(create_app(Settings(**settings), moderator=copy.copy(moderator))) as server:
        yield server


@pytest.fixture(scope="module")
def server(tiny_moderator: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default server: small limits, no API key, Coral enabled and flagging everything."""
    os.environ["TEST_CORAL_SECRET"] = CORAL_SECRET
    feedback = tmp_path_factory.mktemp("feedback")
    with serving(tiny_moderator, max_body_bytes=20_000, max_comments=3, queue_size=64, feedback_dir=str(feedback),
                 api_key_env="TEST_NO_SUCH_KEY", coral_secret_env="TEST_CORAL_SECRET",
                 coral_thresholds={"hostility": 0.0}) as s:
        yield s
    os.environ.pop("TEST_CORAL_SECRET", None)


def post(server: Server, path: str, body: Any = None, **kw: Any) -> httpx.Response:
    if body is not None:
        kw["json"] = body
    return httpx.post(server.url + path, timeout=30, **kw)


def samples(text: str) -> list[Any]:
    """Every sample of a /metrics scrape, read by prometheus_client's own parser (so the format is checked too)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def metric(text: str, name: str, **labels: str) -> float:
    """A sample's value from a /metrics scrape, 0 when absent; ``labels`` must match the sample's exactly."""
    return next((s.value for s in samples(text) if s.name == name and s.labels == labels), 0.0)


def envelope(response: httpx.Response, code: int) -> str:
    assert response.status_code == code, response.text
    error = response.json()["error"]
    assert error["code"] == code and isinstance(error["status"], str)
    return error["message"]


# --- health, native API ---------------------------------------------------------------------


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(server.url + "/healthz").json() == {"status": "ok", "model": "tiny@0.0.1"}
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert envelope(httpx.get(server.url + "/nope"), 404)


def test_native_score(server: Server) -> None:
    body = {"comments": [{"id": "a", "text": "You are an idiot."}, {"id": 7, "text": "Thanks, good read."}],
            "context": {"article_title": "Budget", "article_text": "The council voted..."}}
    r = post(server, "/v1/score", body)
    assert r.status_code == 200, r.text
    assert r.headers["x-moderation-model"] == "tiny@0.0.1" and r.headers["x-request-id"]
    data = r.json()
    assert data["model"] == "tiny@0.0.1"
    assert [res["id"] for res in data["results"]] == ["a", "7"]
    for res in data["results"]:
        assert set(res["scores"]) == set(LABELS)
        assert all(0 <= v <= 1 for v in res["scores"].values())
        assert set(res["labels"]) <= set(LABELS)
    assert post(server, "/v1/score", {"comments": []}).json() == {"model": "tiny@0.0.1", "results": []}


def test_served_thresholds_override_the_model(tiny_moderator: Any) -> None:
    with serving(tiny_moderator, thresholds={"hostility": 0.0, "threat": 1.0}) as s:
        labels = post(s, "/v1/score", {"comments": [{"id": "1", "text": "hello"}]}).json()["results"][0]["labels"]
    assert "hostility" in labels and "threat" not in labels


# --- limits and malformed input -------------------------------------------------------------


def test_body_over_limit_is_413(server: Server) -> None:
    big = {"comments": [{"id": "1", "text": "x" * 30_000}]}
    assert "max_body_bytes" in envelope(post(server, "/v1/score", big), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b'{"comments": [{"id": "1", "text": "'
        for _ in range(30):
            yield b"y" * 1000
        yield b'"}]}'

    assert "max_body_bytes" in envelope(post(server, "/v1/score", content=chunks()), 413)


def test_too_many_comments_is_413_naming_the_limit(server: Server) -> None:
    body = {"comments": [{"id": str(i), "text": "hi"} for i in range(4)]}
    message = envelope(post(server, "/v1/score", body), 413)
    assert "4" in message and "limit is 3" in message and "max_comments" in message


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"comments": [', "malformed JSON"),
        (b"", "empty body"),
        (b'{"comments": [{"id": "1"}]}', "comments.0.text: Field required"),
        (b'{"comments": [{"id": "1", "text": 5}]}', "comments.0.text"),
        (b'{"comment": "hi"}', "comments: Field required"),
        (b"[1, 2]", "invalid request"),
    ],
)
def test_malformed_input_is_422_with_a_clear_message(server: Server, content: bytes, expected: str) -> None:
    r = post(server, "/v1/score", content=content, headers={"Content-Type": "application/json"})
    assert expected in envelope(r, 422)


# --- auth --------------------------------------------------------------------------------------


def test_api_key(tiny_moderator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_API_KEY", "k3y")
    body = {"comments": [{"id": "1", "text": "hi"}]}
    analyze = {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}}
    with serving(tiny_moderator, api_key_env="TEST_API_KEY") as s:
        assert "missing API key" in envelope(post(s, "/v1/score", body), 401)
        assert envelope(post(s, "/v1/score", body, headers={"X-API-Key": "wrong"}), 401) == "invalid API key"
        assert post(s, "/v1/score", body, headers={"X-API-Key": "k3y"}).status_code == 200
        assert envelope(post(s, "/v1alpha1/comments:analyze?key=nope", analyze), 401)
        assert post(s, "/v1alpha1/comments:analyze?key=k3y", analyze).status_code == 200
        assert post(s, "/v1alpha1/comments:analyze", analyze, headers={"X-Goog-Api-Key": "k3y"}).status_code == 200
        assert httpx.get(s.url + "/healthz").status_code == 200  # probes need no key


# --- Perspective ---------------------------------------------------------------------------------


def test_perspective_analyze(server: Server) -> None:
    text = "You are an idiot. Go away!  I like cats."
    body = {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}, "SEVERE_TOXICITY": {}, "INSULT": {}},
            "languages": ["en"], "doNotStore": True, "spanAnnotations": True, "clientToken": "tok-1"}
    r = post(server, "/v1alpha1/comments:analyze", body)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["languages"] == ["en"] and data["clientToken"] == "tok-1" and data["model"] == "tiny@0.0.1"
    scores = data["attributeScores"]
    assert set(scores) == {"TOXICITY", "SEVERE_TOXICITY", "INSULT"}
    summary = scores["TOXICITY"]["summaryScore"]
    assert summary["type"] == "PROBABILITY" and 0 <= summary["value"] <= 1
    assert scores["SEVERE_TOXICITY"]["summaryScore"] == summary  # both read hostility
    spans = scores["INSULT"]["spanScores"]
    # max_comments=3 allows the comment and two spans: the last sentence folds into the second
    assert [text[s["begin"]:s["end"]] for s in spans] == ["You are an idiot.", "Go away!  I like cats."]
    native = post(server, "/v1/score", {"comments": [{"id": "1", "text": text}]}).json()["results"][0]["scores"]
    assert summary["value"] == pytest.approx(native["hostility"], abs=1e-4)


def test_perspective_score_threshold_omits_low_attributes(server: Server) -> None:
    body = {"comment": {"text": "hello"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 1.0}, "THREAT": {}}}
    assert set(post(server, "/v1alpha1/comments:analyze", body).json()["attributeScores"]) == {"THREAT"}


def test_perspective_errors_use_googles_shape(server: Server) -> None:
    r = post(server, "/v1alpha1/comments:analyze", {"comment": {"text": "hi"}, "requestedAttributes": {"FLIRTATION": {}}})
    assert r.status_code == 400
    assert r.json() == {"error": {"code": 400, "status": "INVALID_ARGUMENT", "message": r.json()["error"]["message"]}}
    assert "FLIRTATION" in r.json()["error"]["message"]
    r = post(server, "/v1alpha1/comments:analyze",
             {"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["fr"]})
    assert envelope(r, 400) == "Attribute TOXICITY does not support request languages: fr"
    assert envelope(post(server, "/v1alpha1/comments:analyze", {"comment": {"text": "hi"}}), 422)
    assert envelope(post(server, "/v1alpha1/comments:analyze",
                         {"comment": {"text": " "}, "requestedAttributes": {"TOXICITY": {}}}), 400)


def test_suggestscore_writes_a_label_file(server: Server) -> None:
    feedback = Path(server.app.state.service.settings.feedback_dir)
    body = {"comment": {"text": "Nobody wants you here, loser."}, "clientToken": "t",
            "attributeScores": {"TOXICITY": {"summaryScore": {"value": 1}}, "INSULT": {"summaryScore": {"value": 1}},
                                "SEVERE_TOXICITY": {"summaryScore": {"value": 0}}}}
    r = post(server, "/v1alpha1/comments:suggestscore", body)
    assert r.status_code == 200, r.text
    assert r.json()["clientToken"] == "t" and r.json()["model"] == "tiny@0.0.1"
    unknown = dict(body, attributeScores={"FLIRTATION": {"summaryScore": {"value": 1}}})
    assert envelope(post(server, "/v1alpha1/comments:suggestscore", unknown), 400)
    files = list(feedback.glob("suggestscore-*.jsonl"))
    assert len(files) == 1
    rows = [json.loads(line) for line in files[0].read_text().splitlines()]
    assert len(rows) == 1
    row = rows[0]
    assert row["text"] == "Nobody wants you here, loser." and row["hostility"] == 1 and row["insult"] == 1
    assert row["threat"] is None  # not suggested: unknown, not "no"

    from training.labelfiles import load_label_file  # what `moderation train --data` reads

    table, problems = load_label_file(files[0])
    assert problems == [] and len(table) == 1 and table["hostility"].iloc[0] == 1.0


# --- Coral ----------------------------------------------------------------------------------------


def coral_post(server: Server, body: dict[str, Any] = CORAL_BODY, secret: str | None = CORAL_SECRET,
               header: str | None = None) -> httpx.Response:
    raw = json.dumps(body, indent=2).encode()  # Coral sends JSON.stringify(payload, null, 2)
    headers = {"Content-Type": "application/json"}
    if header is not None or secret is not None:
        headers["X-Coral-Signature"] = header if header is not None else sign(secret, raw)
    return post(server, "/v1/coral", content=raw, headers=headers)


def test_coral_flags_above_threshold(server: Server) -> None:
    r = coral_post(server)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["status"] == "SYSTEM_WITHHELD"
    assert data["actions"][0]["actionType"] == "FLAG" and data["actions"][0]["reason"] == "COMMENT_DETECTED_TOXIC"
    assert data["metadata"]["moderation"]["model"] == "tiny@0.0.1"


def test_coral_signatures(server: Server) -> None:
    raw = json.dumps(CORAL_BODY, indent=2).encode()
    rotated = f"{sign('ss_old', raw)},{sign(CORAL_SECRET, raw)}"  # two active secrets during rotation
    assert coral_post(server, header=rotated).status_code == 200
    assert "X-Coral-Signature" in envelope(coral_post(server, secret="wrong"), 401)
    assert envelope(coral_post(server, secret=None), 401)
    assert envelope(coral_post(server, header="sha256=" + "0" * 64), 401)


def test_coral_204_below_threshold_and_403_without_secret(tiny_moderator: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_CORAL_SECRET_2", CORAL_SECRET)
    with serving(tiny_moderator, coral_secret_env="TEST_CORAL_SECRET_2",
                 coral_thresholds={"hostility": 1.0, "misinformation": 1.0}) as s:
        r = coral_post(s)
        assert r.status_code == 204 and r.content == b"" and r.headers["x-moderation-model"] == "tiny@0.0.1"
    with serving(tiny_moderator, coral_secret_env="TEST_UNSET_SECRET") as s:
        assert "signing secret" in envelope(coral_post(s), 403)


# --- overload, timeout, shutdown, metrics ------------------------------------------------------------


def test_full_queue_answers_503_with_retry_after(tiny_moderator: Any) -> None:
    with serving(Slow(tiny_moderator, 0.4), queue_size=2, max_comments=2, max_batch=1, max_wait_ms=0) as s:
        async def burst() -> list[httpx.Response]:
            async with httpx.AsyncClient(base_url=s.url, timeout=30) as client:
                body = {"comments": [{"id": "1", "text": "hi"}]}
                return await asyncio.gather(*(client.post("/v1/score", json=body) for _ in range(8)))

        responses = asyncio.run(burst())
        metrics = httpx.get(s.url + "/metrics").text
    codes = sorted(r.status_code for r in responses)
    # at most one comment in the forward pass + two queued fit; the rest are refused at once
    assert codes.count(200) >= 2 and codes.count(503) >= 1 and set(codes) == {200, 503}
    refused = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["Retry-After"]) >= 1 and "queue" in r.json()["error"]["message"] for r in refused)
    assert metric(metrics, "moderation_rejected_total", reason="queue_full") == len(refused)


def test_request_timeout_is_504(tiny_moderator: Any) -> None:
    with serving(Slow(tiny_moderator, 1.0), timeout_s=0.2) as s:
        r = post(s, "/v1/score", {"comments": [{"id": "1", "text": "hi"}]})
    assert "timeout" in envelope(r, 504)


def test_shutdown_lets_in_flight_requests_finish(tiny_moderator: Any) -> None:
    results: list[httpx.Response] = []
    with serving(Slow(tiny_moderator, 0.6)) as s:
        worker = threading.Thread(target=lambda: results.append(post(s, "/v1/score", {"comments": [{"id": "1", "text": "hi"}]})))
        worker.start()
        time.sleep(0.2)
        s.server.should_exit = True  # what uvicorn's SIGTERM handler does
        worker.join(10)
    assert results and results[0].status_code == 200


def test_metrics_move(server: Server) -> None:
    before = httpx.get(server.url + "/metrics").text
    post(server, "/v1/score", {"comments": [{"id": "1", "text": "one"}, {"id": "2", "text": "two"}]})
    coral_post(server)
    after = httpx.get(server.url + "/metrics")
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text
    ok = {"endpoint": "/v1/score", "code": "200"}
    assert metric(text, "moderation_requests_total", **ok) == metric(before, "moderation_requests_total", **ok) + 1
    assert metric(text, "moderation_comments_scored_total") >= metric(before, "moderation_comments_scored_total") + 3
    assert metric(text, "moderation_batch_size_count") > metric(before, "moderation_batch_size_count")
    assert metric(text, "moderation_coral_decisions_total", decision="flag") >= 1
    assert metric(text, "moderation_request_duration_seconds_count", endpoint="/v1/score") >= 1
    assert metric(text, "moderation_model_info", model="tiny@0.0.1") == 1
    assert metric(text, "moderation_queue_depth") == 0 and "moderation_queue_depth" in {s.name for s in samples(text)}
    assert any(s.name == "moderation_flagged_total" and s.value > 0 for s in samples(text))  # the tiny model flags something


# --- the real command ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_moderation_serve_command(tiny_model_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, SERVE_TEST_KEY="abc")
    cmd = [sys.executable, "-m", "moderation.cli", "serve", "--model", str(tiny_model_dir), "--port", str(port),
           "--api-key-env", "SERVE_TEST_KEY", "--feedback-dir", str(tmp_path)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 40
        while True:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "server never became ready"
            try:
                if httpx.get(url + "/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        body = {"comments": [{"id": "1", "text": "a private remark 7f3a"}]}
        r = httpx.post(url + "/v1/score?key=abc", json=body, headers={"X-API-Key": "abc"})
        assert r.status_code == 200 and r.json()["model"] == "tiny@0.0.1"
        assert httpx.post(url + "/v1/score", json=body).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
    # uvicorn re-raises SIGTERM once drained, so the exit status is "terminated by SIGTERM"
    assert proc.returncode in (0, -signal.SIGTERM), stderr
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert any(line.get("event") == "request" and line["status"] == 200 for line in lines)
    assert any(line.get("event") == "shutdown" for line in lines)
    assert "7f3a" not in stderr and "key=abc" not in stderr  # no comment text, no key in the log


def test_serve_refuses_a_broken_model_and_nonsense_thresholds(tiny_model_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from moderation.cli import app

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "moderation.json").write_text('{"labels": ["hostility"]}')
    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--model", str(broken)])
    assert result.exit_code == 2 and "is incomplete: model.safetensors, config.json" in result.output
    for option, message in ((["--threshold", "hostility=7"], "between 0 and 1, not hostility=7.0"),
                            (["--coral-threshold", "claim=nan"], "between 0 and 1, not claim=nan"),
                            (["--threshold", "spam=0.5"], "unknown label(s) spam; the model has: hostility"),
                            (["--max-comments", "50", "--queue-size", "10"], "--max-comments (50) must not exceed --queue-size (10)")):
        result = runner.invoke(app, ["serve", "--model", str(tiny_model_dir), *option])
        assert result.exit_code == 2 and message in result.output, result.output


def test_thresholds_may_name_a_label_the_served_model_added(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    grown = tmp_path / "grown"
    shutil.copytree(tiny_model_dir, grown)
    meta = json.loads((grown / "moderation.json").read_text())
    meta["labels"] = [*meta["labels"], "spam"]
    (grown / "moderation.json").chmod(0o644)
    (grown / "moderation.json").write_text(json.dumps(meta))
    assert Settings(model_dir=str(grown), thresholds={"spam": 0.9}).validate().thresholds == {"spam": 0.9}
