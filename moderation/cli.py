"""The ``moderation`` command-line tool: one function per command.

Heavy imports (torch, transformers, datasets, training code) happen inside the
commands that need them, so ``moderation --help`` stays fast.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import functools

import typer

from moderation.errors import ModerationError
from moderation.types import check_backend

if TYPE_CHECKING:
    from moderation.io import Fields
    from moderation.scoring import Summary

class _App(typer.Typer):
    """A Typer whose commands turn user-caused errors into one ``error:`` line and an exit code."""

    def command(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        register = super().command(*args, **kwargs)

        def decorator(fn):  # type: ignore[no-untyped-def]
            @functools.wraps(fn)
            def wrapper(*a, **kw):  # type: ignore[no-untyped-def]
                try:
                    return fn(*a, **kw)
                except ModerationError as exc:
                    typer.echo(f"error: {exc}", err=True)
                    raise typer.Exit(exc.exit_code) from None

            register(wrapper)
            return fn

        return decorator


app = _App(
    name="moderation",
    help="Extract reader comments from page dumps and score them for hostility and misinformation.",
    epilog=(
        "Examples:\n\n"
        "  moderation extract page.txt    (article, comments and authors as JSON)\n\n"
        "  moderation score dumps/ comments.jsonl --output scores.jsonl\n\n"
        "  moderation train --init-from models/default --data my_labels.csv --output models/minilm-1.4.0\n\n"
        "  moderation serve --port 8080\n\n"
        "Run moderation COMMAND --help for each command's options and examples."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_CODES = """
Exit codes: 0 success (warnings may be printed); 1 some inputs failed (with --strict);
2 usage error or nothing could be read.
"""


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@app.command(epilog="Examples:\n\n  moderation extract page.txt\n\n  moderation extract dumps/*.html --output pages.jsonl\n" + EXIT_CODES)
def extract(
    files: Annotated[list[Path], typer.Argument(help="Page dumps: plain text, Markdown or HTML.", show_default=False)],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write JSONL here instead of stdout.")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any file could not be read.")] = False,
) -> None:
    """Split page dumps into article, boilerplate, translations and comments (one JSON line per file)."""
    from moderation.extract import extract_path
    from moderation.io import check_output

    if output:
        try:
            check_output(output, files)
            output.parent.mkdir(parents=True, exist_ok=True)
        except ModerationError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"{output}: cannot create its folder ({exc.strerror or exc})")
    out = open(output, "w", encoding="utf-8") if output else sys.stdout
    failed = 0
    try:
        for path in files:
            try:
                doc = extract_path(path)
            except ModerationError as exc:
                failed += 1
                typer.echo(f"error: {exc}", err=True)
                continue
            for warning in doc.warnings:
                typer.echo(f"warning: {path}: {warning}", err=True)
            out.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
    finally:
        if output:
            out.close()
    if failed == len(files):
        raise typer.Exit(2)
    if failed and strict:
        raise typer.Exit(1)


@app.command(
    epilog="Examples:\n\n  moderation train --config configs/default.yaml --output runs/minilm\n\n"
    "  moderation train --config configs/default.yaml --output runs/minilm --resume\n\n"
    "  moderation train --init-from models/default --data my_labels.csv --output models/minilm-1.1.0\n\n"
    "  moderation train --init-from models/default --data spam.csv --add-label spam --output models/spam-1\n\n"
    "Retraining (--init-from) mixes the new labels with a replay sample of the parent's data, then compares "
    "parent and child ROC-AUC per source and label; if nothing drops by more than --margin the child is "
    "promoted to default (when it is saved in the models folder). Exit code 1: the gate refused promotion.\n"
)
def train(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML training config (default: configs/default.yaml; configs/retrain.yaml with --init-from).", dir_okay=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write (must not exist: models are immutable).")] = Path("runs/model"),
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Folder of source datasets (env: MODERATION_DATA_DIR; default ../shared/data).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from OUTPUT/checkpoints/last.pt.")] = False,
    init_from: Annotated[Optional[Path], typer.Option("--init-from", help="Start from this model and retrain on --data.")] = None,
    data: Annotated[Optional[list[Path]], typer.Option("--data", help="New label files: CSV/TSV/JSONL/Parquet with a text column and label columns (0/1 or probabilities).")] = None,
    replay: Annotated[float, typer.Option(help="Share of the training mix drawn from the parent's training data.")] = 0.5,
    add_label: Annotated[Optional[list[str]], typer.Option("--add-label", help="Add an output head for a new label name found in --data.")] = None,
    on_conflict: Annotated[str, typer.Option(help="Same text with different labels: error | first | mean | drop.")] = "error",
    margin: Annotated[float, typer.Option(help="Largest allowed ROC-AUC drop on any tracked metric.")] = 0.01,
    force: Annotated[bool, typer.Option(help="Promote even if the regression gate fails (recorded in history).")] = False,
    promote: Annotated[bool, typer.Option(help="Promote the retrained model to default when it passes the gate.")] = True,
    models_dir: Annotated[Optional[Path], typer.Option("--models-dir", help="Model registry (env: MODERATION_MODELS_DIR; default: the models/ folder beside the installed package).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")] = False,
) -> None:
    """Fine-tune a model on the configured sources (or retrain one on new labels), calibrate and save it."""
    from training.config import TrainConfig

    if init_from is None and data:
        _fail("--data needs --init-from (the model to continue from)")
    if init_from is not None and not data:
        _fail("--init-from needs at least one --data label file")
    if init_from is not None and resume:
        _fail("--resume continues plain training; a retraining run (--init-from) is short: start it again")
    if config is None:  # ./configs when run from a checkout, else the configs beside the installed package
        name = Path("configs") / ("retrain.yaml" if init_from else "default.yaml")
        config = name if name.is_file() else Path(__file__).resolve().parents[1] / name
    if not config.is_file():
        _fail(f"config not found: {config}")
    try:
        cfg = TrainConfig.from_yaml(config)
    except (ValueError, TypeError) as exc:
        _fail(f"bad config {config}: {exc}")
    if data_dir is not None and not data_dir.is_dir():
        _fail(f"data directory not found: {data_dir}")
    if (output / "moderation.json").exists():
        _fail(f"{output} already holds a model; models are immutable, choose a new --output")
    existing = next(p for p in (output, *output.parents) if p.exists())
    if not existing.is_dir():  # found now, not when the model is saved at the end
        _fail(f"--output {output}: {existing} is a file, not a folder")
    data_root = str(data_dir) if data_dir else None
    if init_from is None:
        from training.trainer import train_model

        moderator = train_model(cfg, output, data_dir=data_root, resume=resume, progress=not quiet)
        typer.echo(f"saved {moderator.name} to {output} ({moderator.meta['training']['train_seconds']:.0f}s of training)")
        return
    _retrain(init_from, data, output, cfg, replay, add_label or [], on_conflict, margin, force, promote, models_dir, data_root, quiet)


def _retrain(init_from, data, output, cfg, replay, add_label, on_conflict, margin, force, promote, models_dir, data_root, quiet) -> None:
    import shutil

    from moderation.registry import Registry, freeze
    from training.retrain import retrain

    for path in data:
        if not path.is_file():
            _fail(f"label file not found: {path}")
    try:
        result = retrain(init_from, data, output, cfg, replay=replay, new_labels=add_label, on_conflict=on_conflict,
                         margin=margin, data_dir=data_root, progress=not quiet)
    except (ValueError, KeyError) as exc:
        _fail(str(exc))
    for problem in result.problems:
        typer.echo(f"warning: {problem}", err=True)
    moderator = result.moderator
    moderator.meta["regression_gate"]["forced"] = bool(force and not result.passed)
    moderator.save(output)
    shutil.rmtree(output / "checkpoints", ignore_errors=True)
    freeze(output)
    typer.echo(moderator.meta["regression_gate"]["table"])
    typer.echo(f"\nsaved {moderator.name} to {output} (parent {moderator.meta['parent']})")
    registry = Registry(models_dir)
    in_registry = output.resolve().parent == registry.root.resolve()
    if not result.passed and not force:
        typer.echo(f"regression gate FAILED: {moderator.meta['regression_gate']['summary']}; not promoted (use --force)", err=True)
        raise typer.Exit(1)
    if promote and in_registry:
        registry.promote(output.name, force=force)
        typer.echo(f"promoted {output.name} to default" + (" (forced past a failed gate)" if not result.passed else ""))
    elif promote:
        typer.echo(f"not promoted: {output} is outside the registry {registry.root} (see --models-dir)", err=True)


@app.command(
    epilog="Examples:\n\n  moderation evaluate models/default\n\n"
    "  moderation evaluate runs/minilm --card   (also writes MODEL_CARD.md)\n\n"
    "  moderation evaluate models/default --data my_labels.csv\n"
)
def evaluate(
    model_dir: Annotated[Path, typer.Argument(help="Model directory to evaluate.")],
    data: Annotated[Optional[list[Path]], typer.Option("--data", help="Label files (CSV/TSV/JSONL/Parquet) to evaluate on instead of the model's own validation split.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Folder of source datasets (env: MODERATION_DATA_DIR).")] = None,
    baseline: Annotated[bool, typer.Option(help="Also train and report the TF-IDF baseline on the model's recorded training rows (not with --data).")] = True,
    card: Annotated[bool, typer.Option(help="Write evaluation.json and MODEL_CARD.md into MODEL_DIR.")] = False,
    text_field: Annotated[str, typer.Option(help="Text column of --data files.")] = "text",
) -> None:
    """Per-source, per-label ROC-AUC, PR-AUC, macro-F1 and calibration error, bias metrics and baseline."""
    import pandas as pd

    from moderation.model import Moderator
    from training.evaluate import evaluate_model, table_for, write_report
    from training.labelfiles import load_label_file
    from training.metrics import markdown_table

    if card and data:
        _fail("--card describes the model's own validation suite; drop --data to write it")
    moderator = Moderator.load(model_dir, backend="torch")  # fp32: figures must not depend on the CPU
    if data:
        from training.labelfiles import resolve_conflicts

        stems = [path.stem for path in data]
        frames = []
        for path in data:
            # Per-file rows in the report; two files of the same name stay apart by their paths.
            source = path.stem if stems.count(path.stem) == 1 else str(path)
            frame, problems = load_label_file(path, text_field=text_field, labels=moderator.labels, source=source)
            for problem in problems:
                typer.echo(f"warning: {problem}", err=True)
            frames.append(frame)
        # A text counted twice would weigh twice in every metric: keep its first row.
        table, repeats = resolve_conflicts(pd.concat(frames, ignore_index=True), "first")
        for problem in repeats:
            typer.echo(f"warning: {problem}", err=True)
        if table.empty:
            _fail("no usable rows in the --data files")
        table = table.drop(columns=["line"]).assign(split="validation")
        baseline = False
    else:
        try:
            table = table_for(moderator, str(data_dir) if data_dir else None)
        except (ValueError, FileNotFoundError) as exc:
            _fail(str(exc))
    report = evaluate_model(moderator, table, baseline=baseline)
    base = report.get("baseline", {}).get("metrics")
    typer.echo(markdown_table(report["metrics"], base, labels=tuple(moderator.labels)))
    bias, templates = report["bias"], report["templates"]
    typer.echo(f"\nbias final score {bias.get('final_score', float('nan')):.4f}; identity templates flagged {templates['flagged_rate']:.1%}")
    if card:
        try:
            write_report(Path(model_dir), moderator, report)
        except OSError as exc:
            _fail(f"cannot write the card into {model_dir}: {exc.strerror or exc} (registered models are read-only)")
        typer.echo(f"wrote {model_dir}/evaluation.json and MODEL_CARD.md")


models_app = _App(
    help="Inspect and switch models in the registry (--models-dir or $MODERATION_MODELS_DIR, default: the models/ folder beside the installed package).",
    epilog=(
        "Examples:\n\n"
        "  moderation models list    (* marks the default)\n\n"
        "  moderation models promote moderation-minilm-1.4.0\n\n"
        "  moderation models rollback    (back to the previous default)"
    ),
    no_args_is_help=True,
)
app.add_typer(models_app, name="models")
ModelsDir = Annotated[Optional[Path], typer.Option("--models-dir", help="Model registry folder (env: MODERATION_MODELS_DIR).")]


@models_app.command("list", epilog="Example:\n\n  moderation models list --models-dir /srv/moderation/models\n")
def models_list(models_dir: ModelsDir = None) -> None:
    """List model versions; * marks the default."""
    from moderation.registry import Registry

    for info in Registry(models_dir).list():
        if info.problem:
            typer.echo(f"{'*' if info.is_default else ' '} {info.name:32} (unusable: {info.problem})")
            continue
        created = info.meta.get("created", "")
        gate = info.meta.get("regression_gate", {}).get("passed")
        gate_txt = "" if gate is None else (" gate:passed" if gate else " gate:FAILED")
        typer.echo(f"{'*' if info.is_default else ' '} {info.name:32} {info.version:28} {created}{gate_txt}")


@models_app.command("show", epilog="Examples:\n\n  moderation models show default\n\n  moderation models show moderation-minilm-1.0.0\n")
def models_show(
    name: Annotated[str, typer.Argument(help="Model folder name, or 'default'.")] = "default",
    models_dir: ModelsDir = None,
) -> None:
    """Print a model's metadata (labels, thresholds, parent, gate, data, metrics) as JSON."""
    from moderation.registry import Registry

    info = Registry(models_dir).get(name)
    meta = dict(info.meta)
    meta.pop("calibration", None)
    typer.echo(json.dumps({"folder": info.name, "default": info.is_default, **meta}, indent=2))


@models_app.command("promote", epilog="Example:\n\n  moderation models promote moderation-minilm-1.1.0\n")
def models_promote(
    name: Annotated[str, typer.Argument(help="Model folder name to make the default.")],
    force: Annotated[bool, typer.Option(help="Promote even if the model failed its regression gate.")] = False,
    models_dir: ModelsDir = None,
) -> None:
    """Atomically point 'default' at NAME."""
    from moderation.registry import Registry

    info = Registry(models_dir).promote(name, force=force)
    typer.echo(f"default -> {info.name} ({info.version})")


@models_app.command("rollback", epilog="Example:\n\n  moderation models rollback\n")
def models_rollback(models_dir: ModelsDir = None) -> None:
    """Point 'default' back at the previous default."""
    from moderation.registry import Registry

    info = Registry(models_dir).rollback()
    typer.echo(f"default -> {info.name} ({info.version})")


BACKEND_HELP = "Inference backend: auto (bf16 on CPUs with AMX, else torch), torch (exact fp32) or bf16 (within 0.01 of fp32)."

SCORE_EPILOG = (
    "Examples:\n\n"
    "  moderation score comments.jsonl --output scores.jsonl\n\n"
    "  moderation score export.csv --text-field body --id-field comment_id --keep-fields author,url --output scores.parquet\n\n"
    "  moderation score dumps/ --output page_scores.csv\n\n"
    "  zcat comments.jsonl.gz | moderation score - --output scores.jsonl\n\n"
    "  curl -s https://example.com/story | moderation score - --stdin-format page --output page.jsonl\n\n"
    "  moderation score big.jsonl --output scores.jsonl --resume    (continue a killed run)\n\n"
    "  moderation score comments.jsonl --output scores.jsonl --backend torch    (exact fp32 scores)\n\n"
    "Rejected rows go to OUT.errors.jsonl with line, id and reason. Work in progress is kept in "
    "OUT.partial/; OUT itself appears only when the run is complete.\n" + EXIT_CODES
)


@app.command(epilog=SCORE_EPILOG)
def score(
    inputs: Annotated[list[str], typer.Argument(help="Comment tables (.jsonl, .csv, .tsv, .parquet; .gz ok), page dumps or HTML files, folders of them, or - for stdin.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (.jsonl, .csv or .parquet).", show_default=False)],
    text_field: Annotated[str, typer.Option(help="Input field holding the comment text.")] = "text",
    id_field: Annotated[Optional[str], typer.Option(help="Input field holding the id (default: 'id' if present, else the row number).", show_default=False)] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Output format: jsonl, csv or parquet (default: from the output extension).", show_default=False)] = None,
    keep_fields: Annotated[Optional[str], typer.Option(help="Comma-separated input fields copied to each output record.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(help="Continue a killed run from OUT.partial/.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Comments per forward pass (default: the model's, 64).", show_default=False)] = None,
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "auto",
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Model directory (default: the shipped models/default).", show_default=False)] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any row was rejected.")] = False,
    stdin_format: Annotated[str, typer.Option(help="What - holds: auto (JSONL, CSV/TSV, HTML or Parquet, told by the first line that is not blank), jsonl, csv, tsv, parquet or page (a plain-text or HTML page dump).")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Report model, settings and each committed chunk.")] = False,
) -> None:
    """Score comment tables and page dumps for hostility and misinformation: one output record per comment, in input order."""
    from moderation.io import RESERVED, STDIN, STDIN_FORMATS, Fields, check_inputs, check_output, expand_inputs, output_format

    keep = tuple(dict.fromkeys(k.strip() for k in (keep_fields or "").split(",") if k.strip()))
    if clash := [k for k in keep if k in RESERVED]:
        _fail(f"--keep-fields cannot include {', '.join(clash)}: the output already has {', '.join(RESERVED)}")
    if stdin_format not in STDIN_FORMATS:
        _fail(f"--stdin-format must be one of {', '.join(STDIN_FORMATS)}, not {stdin_format!r}")
    if stdin_format != "auto" and STDIN not in inputs:
        _fail("--stdin-format describes stdin: add - to the inputs")
    if inputs.count(STDIN) > 1:
        _fail("- (stdin) can be given once: it can be read only once")
    try:
        check_backend(backend)  # before the inputs are read and the model loads
    except ValueError as exc:
        _fail(str(exc))
    try:
        fields = Fields(text_field, id_field, keep)
        paths = expand_inputs(inputs)
        check_output(output, paths)
        fmt = output_format(str(output), fmt)
        check_inputs(paths, fields)  # unknown fields fail now, before the model loads
        summary = _run_score(paths, output, fmt, fields, resume, batch_size, model, backend, stdin_format,
                             show_progress=not quiet and sys.stderr.isatty() and not os.environ.get("CI"), verbose=verbose)
    except ModerationError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:
        _fail(f"{exc.filename or output}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        _fail(f"interrupted; finished chunks are kept in {output}.partial/: rerun with --resume to continue", 130)
    if not quiet:
        typer.echo(summary.text(), err=True)
        if summary.rejected:
            typer.echo(f"{summary.rejected:,} rejected rows listed in {output}.errors.jsonl", err=True)
    if summary.scored == 0 and summary.rejected == 0 and summary.pages:
        # an article without reader comments is a normal page, not a mistake
        if not quiet:
            typer.echo(f"note: no comments found in {summary.pages:,} page{'s' if summary.pages > 1 else ''}; wrote an empty {output}", err=True)
        return
    if summary.scored == 0 and summary.rejected == 0:
        _fail("nothing to score: the inputs hold no rows")
    if summary.scored == 0:
        _fail(f"nothing could be read: no row was scored (see {output}.errors.jsonl)")
    if strict and summary.rejected:
        raise typer.Exit(1)


def _run_score(paths: list[str], output: Path, fmt: str, fields: "Fields", resume: bool, batch_size: Optional[int],
               model: Optional[Path], backend: str, stdin_format: str, show_progress: bool, verbose: bool) -> "Summary":
    """Load the model (heavy imports start here) and run the pipeline, with a progress bar on a TTY."""
    from moderation.io import estimate_rows
    from moderation.scoring import Job, run

    def log(message: str) -> None:
        if verbose:
            typer.echo(message, err=True)

    import torch

    from moderation.model import Moderator

    scorer = Moderator.load(model, backend=backend)
    if batch_size:
        scorer.batch_size = batch_size
    log(f"model {scorer.name} on {scorer.backend}, batch size {scorer.batch_size}, {torch.get_num_threads()} torch threads")
    job = Job(paths, output, fmt, fields, resume, stdin_format)

    def warn(message: str) -> None:
        typer.echo(f"warning: {message}", err=True)

    if not show_progress:
        return run(scorer, job, log=log, warn=warn)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("score", total=estimate_rows(paths), rate="")
        started = time.perf_counter()
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            bar.update(task, advance=n, rate=f"{done / max(time.perf_counter() - started, 1e-9):,.0f} rows/s")

        return run(scorer, job, on_rows=advance, log=lambda m: bar.console.print(m) if verbose else None,
                   warn=lambda m: bar.console.print(f"warning: {m}", markup=False))


SERVE_FLAGS = {"timeout_s": "timeout"}  # Settings fields whose flag is not the field name

SERVE_EPILOG = (
    "Examples:\n\n"
    "  moderation serve    (models/default on http://127.0.0.1:8080)\n\n"
    "  MODERATION_API_KEY=s3cret moderation serve --host 0.0.0.0 --workers 2\n\n"
    "  MODERATION_CORAL_SECRET=ss_... moderation serve --coral-threshold hostility=0.8 --coral-threshold misinformation=0.9\n\n"
    "  curl -s localhost:8080/v1/score -H 'Content-Type: application/json' -d '{\"comments\": [{\"id\": \"1\", \"text\": \"Nice piece.\"}]}'\n\n"
    "Endpoints: POST /v1/score, POST /v1alpha1/comments:analyze and :suggestscore (Perspective), "
    "POST /v1/coral (Coral Talk external moderation), GET /healthz, /readyz, /metrics. "
    "Stop with SIGTERM or Ctrl-C: in-flight requests finish first.\n"
)


@app.command(epilog=SERVE_EPILOG)
def serve(
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Model directory \\[default: the shipped models/default].", show_default=False)] = None,
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Processes; each loads the model and shares the cores.")] = 1,
    api_key_env: Annotated[Optional[str], typer.Option(help="Variable holding the API key clients must send (X-API-Key or ?key=) \\[default: MODERATION_API_KEY, if set].", show_default=False)] = None,
    coral_secret_env: Annotated[str, typer.Option(help="Variable holding Coral's signing secret (enables POST /v1/coral).")] = "MODERATION_CORAL_SECRET",
    threshold: Annotated[Optional[list[str]], typer.Option(help="LABEL=P: override the model's threshold for the labels returned (repeatable).", show_default=False)] = None,
    coral_threshold: Annotated[Optional[list[str]], typer.Option(help="LABEL=P: flag in Coral when a label scores above P (repeatable) \\[default: hostility=0.8].", show_default=False)] = None,
    coral_status: Annotated[str, typer.Option(help="Coral status for flagged comments: SYSTEM_WITHHELD, PREMOD, REJECTED or NONE.")] = "SYSTEM_WITHHELD",
    max_body_bytes: Annotated[int, typer.Option(min=1, help="Larger request bodies get 413.")] = 1_000_000,
    max_comments: Annotated[int, typer.Option(min=1, help="More comments in one request get 413.")] = 256,
    queue_size: Annotated[int, typer.Option(min=1, help="Comments waiting for the model; beyond it, 503 with Retry-After.")] = 2048,
    max_batch: Annotated[int, typer.Option(min=1, help="Comments per forward pass.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(min=0, help="How long a comment may wait for others to share its forward pass.")] = 5.0,
    forward_batch: Annotated[Optional[int], typer.Option(min=1, help="Sub-batch size inside a forward pass (length-sorted, so less padding; default: 16 on torch, 64 on bf16).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(min=0.001, help="Per-request timeout in seconds, queueing included (504 past it).")] = 30.0,
    feedback_dir: Annotated[Path, typer.Option(help="Where comments:suggestscore writes label files.")] = Path("feedback"),
    log_text: Annotated[bool, typer.Option(help="Also log comment texts (off: texts never reach the log).")] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "auto",
) -> None:
    """Serve the model over HTTP: native batch API, Perspective-compatible API and Coral Talk moderation."""
    from moderation.model import check_model_dir
    from moderation.service.server import serve as run_server
    from moderation.service.settings import DEFAULT_API_KEY_ENV, Settings

    if api_key_env and not os.environ.get(api_key_env):
        _fail(f"--api-key-env {api_key_env}: that environment variable is not set")
    path = check_model_dir(model)  # a missing or broken model fails here, before the port is bound
    try:
        settings = Settings(
            model_dir=str(path), host=host, port=port, workers=workers,
            api_key_env=api_key_env or DEFAULT_API_KEY_ENV, coral_secret_env=coral_secret_env,
            max_body_bytes=max_body_bytes, max_comments=max_comments, queue_size=queue_size, max_batch=max_batch,
            max_wait_ms=max_wait_ms, forward_batch=forward_batch, timeout_s=timeout, feedback_dir=str(feedback_dir), log_text=log_text,
            log_level=log_level.lower(), coral_status=coral_status, backend=backend,
            thresholds=Settings.parse_label_values(threshold or []),
            coral_thresholds=Settings.parse_label_values(coral_threshold or ["hostility=0.8"]),
            # Workers split the cores rather than each spawning a thread per core.
            torch_threads=max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None,
        ).validate()
    except ValueError as exc:
        # Settings name their fields; a CLI user knows the flags.
        _fail(re.sub(r"\b(timeout_s|max_wait_ms|coral_status|log_level|max_body_bytes|max_comments|queue_size|max_batch|forward_batch|workers)\b",
                     lambda m: "--" + SERVE_FLAGS.get(m.group(1), m.group(1)).replace("_", "-"), str(exc)))
    run_server(settings)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
