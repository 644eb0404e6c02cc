"""A built wheel, installed into a fresh virtual environment outside the checkout, scores a seed page
once `moderation models install` has put the default model where `Moderator.load()` looks (issue 19).

The wheel carries no model (it will outgrow PyPI's 100 MB file limit; see docs/model.md), so the
install step is part of what is tested. The venv reuses this interpreter's packages
(``--system-site-packages``), so torch is never downloaded again.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from moderation.cli import app
from tests.conftest import build_tiny

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "tests" / "fixtures" / "seeds" / "000_81f09624bfe65d55.txt"


def run(*cmd: object, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=600, **kw)  # type: ignore[call-overload]


def test_a_wheel_installed_elsewhere_scores_a_seed_page(tmp_path: Path) -> None:
    src, dist, venv, work = tmp_path / "src", tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    # Built from a copy: setuptools builds in the source tree, and a build/ left there could leak stale files.
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for name in ("moderation", "training"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = run(sys.executable, "-m", "pip", "wheel", src, "--no-deps", "--no-build-isolation", "-w", dist)
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("moderation-*.whl")
    assert wheel.stat().st_size < 5_000_000  # code only: the model is installed separately
    assert run(sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv).returncode == 0
    python, moderation = venv / "bin" / "python", venv / "bin" / "moderation"
    # --ignore-installed: the checkout's own (editable) install is visible through the system site-packages.
    installed = run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "--ignore-installed", wheel)
    assert installed.returncode == 0, installed.stderr
    work.mkdir()
    shutil.copy(SEED, work / "seed.txt")
    env = {k: v for k, v in os.environ.items() if k not in ("MODERATION_MODELS_DIR", "PYTHONPATH")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")  # where an installed package keeps its models

    where = run(python, "-c", "import moderation; print(moderation.__file__)", cwd=work, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr  # the wheel, not the checkout

    missing = run(moderation, "score", "seed.txt", "--output", "scores.jsonl", cwd=work, env=env)
    assert missing.returncode == 2 and "install one with `moderation models install PATH|URL`" in missing.stderr, missing.stderr
    assert not (work / "scores.jsonl").exists()

    added = run(moderation, "models", "install", ROOT / "models" / "default", cwd=work, env=env)
    assert added.returncode == 0 and "it is the default" in added.stdout, added.stderr
    models = tmp_path / "data" / "moderation" / "models"
    assert (models / "default").is_symlink()

    scored = run(moderation, "score", "seed.txt", "--output", "scores.jsonl", "--backend", "torch", cwd=work, env=env)
    assert scored.returncode == 0, scored.stderr
    records = [json.loads(line) for line in (work / "scores.jsonl").read_text().splitlines()]
    shipped = json.loads((ROOT / "models" / "default" / "moderation.json").read_text())
    assert len(records) == 30 and {r["model"] for r in records} == {f"{shipped['name']}@{shipped['version']}"}
    api = run(python, "-c", "from moderation import Moderator; print(Moderator.load(backend='torch').score_one('Thanks!').model)",
              cwd=work, env=env)
    assert api.returncode == 0 and api.stdout.strip() == records[0]["model"], api.stderr


# --- `moderation models install` from an archive or a URL ------------------------------------------------


@pytest.fixture(scope="module")
def tiny_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = build_tiny(tmp_path_factory.mktemp("src") / "tiny-0.0.1")
    archive = folder.parent / "tiny-0.0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname=folder.name)
    return archive


def test_install_from_an_archive_and_a_url(tmp_path: Path, tiny_archive: Path) -> None:
    runner = CliRunner()
    registry = tmp_path / "models"
    first = runner.invoke(app, ["models", "install", str(tiny_archive), "--models-dir", str(registry)])
    assert first.exit_code == 0 and "installed tiny-0.0.1 (tiny@0.0.1)" in first.output and "it is the default" in first.output
    assert os.readlink(registry / "default") == "tiny-0.0.1"
    assert not os.access(registry / "tiny-0.0.1" / "moderation.json", os.W_OK) or os.geteuid() == 0  # read-only (root may write anyway)
    assert (registry / "tiny-0.0.1" / "moderation.json").stat().st_mode & 0o222 == 0

    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tiny_archive.parent), **kw)  # noqa: E731
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/{tiny_archive.name}"
        other = tmp_path / "other"
        fetched = runner.invoke(app, ["models", "install", url, "--models-dir", str(other), "--no-promote"])
        missing = runner.invoke(app, ["models", "install", url + ".nope", "--models-dir", str(other)])
        server.shutdown()
    assert fetched.exit_code == 0 and "the default is unchanged" in fetched.output, fetched.output
    assert (other / "tiny-0.0.1" / "model.safetensors").is_file() and not (other / "default").exists()
    assert missing.exit_code == 2 and "download failed" in missing.output

    again = runner.invoke(app, ["models", "install", str(tiny_archive), "--models-dir", str(registry)])
    assert again.exit_code == 0 and "already installed: tiny-0.0.1" in again.output


def test_install_from_a_training_run_leaves_its_checkpoints_behind(tmp_path: Path) -> None:
    run_dir = build_tiny(tmp_path / "run")
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.pt").write_bytes(b"resume state")
    result = CliRunner().invoke(app, ["models", "install", str(run_dir), "--models-dir", str(tmp_path / "models"), "--no-promote"])
    assert result.exit_code == 0, result.output
    installed = tmp_path / "models" / "tiny-0.0.1"
    assert (installed / "moderation.json").is_file() and not (installed / "checkpoints").exists()


def test_install_refuses_what_is_not_a_model(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive")
    (empty := tmp_path / "empty").mkdir()
    for source, message in ((tmp_path / "nope", "no such model folder or archive"),
                            (tmp_path / "junk.tar.gz", "not a readable .tar.gz or .zip archive"),
                            (empty, "no model at")):
        result = runner.invoke(app, ["models", "install", str(source), "--models-dir", str(tmp_path / "models")])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output, result.output
    assert not (tmp_path / "models").exists() or not any((tmp_path / "models").iterdir())
