"""The README and docs/ stay true: the README's two commands work (the second is exactly what CI
runs), links resolve, every `moderation ...` command in them names real commands and options, and
the import costs docs/python-api.md describes are what happens."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer

from moderation.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = ("cli", "python-api", "service", "extraction", "model", "retraining", "speed", "experiments")


def bash_blocks(path: Path) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def readme_commands() -> tuple[str, str]:
    """The two one-line commands at the top of the README: install and score, install and test."""
    first, second = (block.strip() for block in bash_blocks(README)[:2])
    return first, second


def test_readme_is_a_guide_that_links_every_docs_page() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for page in PAGES:
        assert f"(docs/{page}.md" in text, page
        assert (ROOT / "docs" / f"{page}.md").is_file(), page


def test_the_second_readme_command_is_what_ci_runs() -> None:
    _, second = readme_commands()
    assert second.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    ran = next(line for line in ci.splitlines() if "python -m pytest" in line)
    assert ran.replace(" -q ", " ") == second, (ran, second)  # the same steps; CI only quiets pip


def test_the_first_readme_command_scores_a_seed_with_the_default_model(tmp_path: Path) -> None:
    first, _ = readme_commands()
    install, editable, score = (part.strip() for part in first.split("&&"))
    assert install == "pip install torch==2.13.0" and editable == "pip install -e ."
    args = shlex.split(score)
    assert args[0] == "moderation"
    args[args.index(next(a for a in args if a.startswith("tests/")))] = str(ROOT / next(a for a in args if a.startswith("tests/")))
    env = {k: v for k, v in os.environ.items() if k != "MODERATION_MODELS_DIR"}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "moderation.cli", *args[1:], "--backend", "torch"], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in (tmp_path / "scores.jsonl").read_text().splitlines()]
    assert len(records) == 30 and all(set(r) >= {"id", "scores", "labels", "model"} for r in records)


def test_links_resolve() -> None:
    for path in (README, *DOCS):
        for target in re.findall(r"\]\(([^)\s]+)\)", path.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            file, _, anchor = target.partition("#")
            resolved = (path.parent / file).resolve()
            assert resolved.exists(), f"{path.name}: broken link {target}"
            if anchor and resolved.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", resolved.read_text(encoding="utf-8"), re.M)
                slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-") for h in headings}
                assert anchor in slugs, f"{path.name}: no heading for #{anchor} in {file}"


# --- every `moderation ...` line names real commands and options ----------------------------------


def _doc_invocations() -> list[tuple[str, list[str]]]:
    """``moderation`` invocations in the bash blocks of README.md and docs/*.md (pipes, && and env prefixes handled)."""
    found = []
    for path in (README, *DOCS):
        for block in bash_blocks(path):
            for line in block.replace("\\\n", " ").splitlines():
                for part in re.split(r"\s*(?:\|\||&&|\||;)\s*", line):
                    try:
                        words = shlex.split(part, comments=True)
                    except ValueError:
                        continue
                    while words and re.match(r"^[A-Z_]+=", words[0]):
                        words = words[1:]
                    if words and words[0] == "moderation":
                        found.append((path.name, words[1:]))
    return found


def test_docs_hold_moderation_commands() -> None:
    assert len(_doc_invocations()) >= 20


@pytest.mark.parametrize("where, words", _doc_invocations(), ids=lambda v: v if isinstance(v, str) else " ".join(v)[:60])
def test_documented_commands_and_options_exist(where: str, words: list[str]) -> None:
    command = typer.main.get_command(app)  # typer vendors click: duck-type its groups
    ctx = click.Context(command)
    while hasattr(command, "list_commands") and words and not words[0].startswith("-"):
        sub = command.get_command(ctx, words[0])
        assert sub is not None, f"{where}: no command {words[0]!r}"
        command, words = sub, words[1:]
    known = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"--help"}
    for word in words:
        if word.startswith("--") or re.fullmatch(r"-[a-zA-Z]", word):
            assert word.split("=")[0] in known, f"{where}: {command.name} has no option {word}"


# --- import costs -------------------------------------------------------------------------------------


def test_python_api_page_says_truly_which_imports_load_torch() -> None:
    page = (ROOT / "docs" / "python-api.md").read_text(encoding="utf-8")
    assert "`from moderation import Moderator`\n  imports torch" in page or "`from moderation import Moderator` imports torch" in " ".join(page.split())
    assert "`from moderation import extract_page` (and\n  `Document`, `Scores`, `LABELS`) does not import torch" in page
    for statement, loads_torch in (("import moderation", False), ("from moderation import extract_page, Document, Scores, LABELS", False),
                                   ("from moderation import Moderator", True)):
        code = f"{statement}; import sys; print('torch' in sys.modules)"
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.stdout.strip() == str(loads_torch), (statement, out.stderr)
