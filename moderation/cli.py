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
    from moderation.scoring import Job, Scorer, Summary

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
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write JSONL here instead of stdout (its folder must exist).")] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any file could not be read.")] = False,
) -> None:
    """Split page dumps into article, boilerplate, translations and comments (one JSON line per file)."""
    from moderation.extract import extract_path
    from moderation.io import check_output

    if output and str(output) == "-":
        output = None  # stdout, as without --output
    if output:
        try:
            check_output(output, files)
        except ModerationError as exc:
            _fail(str(exc))
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
    "  moderation train --config configs/e5n-stage3.yaml --output runs/e5n-stage3 --resume --time-limit 55\n\n"
    "  moderation train --init-from models/default --data my_labels.csv --output models/minilm-1.1.0\n\n"
    "  moderation train --init-from models/default --data spam.csv --add-label spam --output models/spam-1\n\n"
    "Retraining (--init-from) mixes the new labels with a replay sample of the parent's data, then compares "
    "parent and child ROC-AUC per source and label; if nothing drops by more than --margin the child is "
    "promoted to default (when it is saved in the models folder). Exit code 1: the gate refused promotion.\n\n"
    "--time-limit splits a long stage across sessions on a slower CPU: the loop stops at its limit with a "
    "checkpoint (exit code 3) and --resume continues it. --resume on a finished run of the same config does "
    "nothing, so a recipe script can be rerun with --resume until it completes.\n"
)
def train(
    config: Annotated[Optional[Path], typer.Option("--config", "-c", help="YAML training config (default: configs/default.yaml; configs/retrain.yaml with --init-from).", dir_okay=False)] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="Model directory to write (must not exist: models are immutable).")] = Path("runs/model"),
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Folder of source datasets (env: MODERATION_DATA_DIR; default ../shared/data).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUTPUT (a finished run: nothing to do).")] = False,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", min=0.0, metavar="MINUTES", help="Stop the training loop after this many minutes of the command, with a checkpoint (exit code 3); calibration after the last batch is not limited.", show_default=False)] = None,
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

    started = time.monotonic()  # --time-limit counts from here: building the table is part of a session

    if init_from is None and data:
        _fail("--data needs --init-from (the model to continue from)")
    if init_from is not None and not data:
        _fail("--init-from needs at least one --data label file")
    if init_from is not None and resume:
        _fail("--resume continues plain training; a retraining run (--init-from) is short: start it again")
    if init_from is not None and time_limit is not None:
        _fail("--time-limit is for plain training; a retraining run (--init-from) is short")
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
        if resume:
            _nothing_to_resume(output, cfg)
            return
        _fail(f"{output} already holds a model; models are immutable, choose a new --output")
    existing = next(p for p in (output, *output.parents) if p.exists())
    if not existing.is_dir():  # found now, not when the model is saved at the end
        _fail(f"--output {output}: {existing} is a file, not a folder")
    data_root = str(data_dir) if data_dir else None
    if init_from is None:
        from training.trainer import TimeLimitReached, train_model

        deadline = None if time_limit is None else started + 60 * time_limit
        try:
            moderator = train_model(cfg, output, data_dir=data_root, resume=resume, progress=not quiet, deadline=deadline)
        except TimeLimitReached as stop:  # not an error: the stage continues in the next session
            typer.echo(f"--time-limit {time_limit:g} reached: stopped after batch {stop.step:,} of {stop.total:,}, checkpoint in "
                       f"{stop.path}; rerun with --resume to continue", err=True)
            raise typer.Exit(3)
        typer.echo(f"saved {moderator.name} to {output} ({moderator.meta['training']['train_seconds']:.0f}s of training)")
        return
    _retrain(init_from, data, output, cfg, replay, add_label or [], on_conflict, margin, force, promote, models_dir, data_root, quiet)


def _nothing_to_resume(output: Path, cfg: "TrainConfig") -> None:
    """--resume on a finished run: fine if it is this config's, so that a recipe script can be rerun."""
    from moderation.model import read_meta
    from training.trainer import changed_settings

    recorded = read_meta(output).get("config") or {}
    if changed := changed_settings(recorded, cfg):
        _fail(f"{output} already holds a model trained with other settings ({', '.join(changed)}); choose a new --output")
    typer.echo(f"{output} already holds the model this config trains: nothing to resume")


def _retrain(init_from, data, output, cfg, replay, add_label, on_conflict, margin, force, promote, models_dir, data_root, quiet) -> None:
    import shutil

    from moderation.model import CHECKPOINTS_DIR
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
    shutil.rmtree(output / CHECKPOINTS_DIR, ignore_errors=True)
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
    others = report.get("templates_by_language") or {}
    if others:
        typer.echo("identity templates flagged by language: " + ", ".join(f"{lang} {check['flagged_rate']:.1%}" for lang, check in others.items()))
    functional = report.get("functional")
    if functional:
        below = functional["below_target"]
        typer.echo(f"functional tests passed {functional['overall']:.1%} of {functional['n']} cases"
                   + (f"; below target: {', '.join(below)}" if below else "; every functionality at target"))
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

    registry = Registry(models_dir)
    if registry.get(name).is_default:
        typer.echo(f"{registry.get(name).name} is already the default; nothing changed")
        return
    info = registry.promote(name, force=force)
    typer.echo(f"default -> {info.name} ({info.version})")


@models_app.command(
    "install",
    epilog="Examples:\n\n"
    "  moderation models install ~/moderation/models/default    (a model folder, e.g. from a clone)\n\n"
    "  moderation models install moderation-minilm-1.3.0.tar.gz\n\n"
    "  moderation models install https://example.org/moderation-minilm-1.3.0.tar.gz\n\n"
    "Without --models-dir or $MODERATION_MODELS_DIR, an installed package keeps its models in "
    "$XDG_DATA_HOME/moderation/models (~/.local/share/moderation/models), where Moderator.load() looks.\n",
)
def models_install(
    source: Annotated[str, typer.Argument(help="A model folder, a .tar.gz or .zip of one, or an http(s) URL of such an archive.", show_default=False)],
    promote: Annotated[Optional[bool], typer.Option("--promote/--no-promote", help="Make it the default (default: only if there is none yet).", show_default=False)] = None,
    models_dir: ModelsDir = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No download progress.")] = False,
) -> None:
    """Copy a model into the registry (read-only, named NAME-VERSION), so Moderator.load() and every command find it."""
    from moderation.registry import Registry

    registry = Registry(models_dir)
    if quiet or not sys.stderr.isatty() or os.environ.get("CI") or not source.startswith(("http://", "https://")):
        info, copied = registry.install(source, promote)
    else:
        from rich.console import Console
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

        with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=Console(stderr=True), transient=True) as bar:
            task = bar.add_task("downloading", total=None)
            info, copied = registry.install(source, promote, on_bytes=lambda done, total: bar.update(task, completed=done, total=total))
    typer.echo(f"{'installed' if copied else 'already installed:'} {info.name} ({info.version}) in {registry.root}"
               + ("; it is the default" if info.is_default else f"; the default is unchanged (moderation models promote {info.name})"))


@models_app.command("rollback", epilog="Example:\n\n  moderation models rollback\n")
def models_rollback(models_dir: ModelsDir = None) -> None:
    """Point 'default' back at the previous default."""
    from moderation.registry import Registry

    info = Registry(models_dir).rollback()
    typer.echo(f"default -> {info.name} ({info.version})")


BACKEND_HELP = ("Inference backend: auto (bf16 where the CPU runs it natively: AMX, or AVX-512 BF16 if a quick measurement "
                "says it pays; else torch; --verbose says which and why), torch (exact fp32) or bf16 (within about 0.01 of fp32).")

SCORE_EPILOG = (
    "Examples:\n\n"
    "  moderation score comments.jsonl --output scores.jsonl\n\n"
    "  moderation score export.csv --text-field body --id-field comment_id --keep-fields author,url --output scores.parquet\n\n"
    "  moderation score dumps/ --output page_scores.csv\n\n"
    "  zcat comments.jsonl.gz | moderation score - --output scores.jsonl\n\n"
    "  curl -s https://example.com/story | moderation score - --stdin-format page --output page.jsonl\n\n"
    "  moderation score big.jsonl --output scores.jsonl --resume    (continue a killed run)\n\n"
    "  moderation score comments.jsonl --output scores.jsonl --backend torch    (exact fp32 scores)\n\n"
    "  moderation score 'lake/comments/*.parquet' --output scores.parquet --engine spark --master 'local[2]'\n\n"
    "Rejected rows go to OUT.errors.jsonl with line, id and reason. Work in progress is kept in "
    "OUT.partial/; OUT itself appears only when the run is complete. With --engine spark (pip install -e '.[spark]', "
    "Java 17+) OUT is a folder of Parquet partitions and rejected rows go to OUT.errors/ (see docs/spark.md).\n" + EXIT_CODES
)


@app.command(epilog=SCORE_EPILOG)
def score(
    inputs: Annotated[list[str], typer.Argument(help="Comment tables (.jsonl, .csv, .tsv, .parquet; .gz ok), page dumps or HTML files, folders of them, or - for stdin.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file (.jsonl, .csv or .parquet; its folder must exist), or - for stdout (JSONL; CSV with --format csv).", show_default=False)],
    text_field: Annotated[str, typer.Option(help="Input field holding the comment text.")] = "text",
    id_field: Annotated[Optional[str], typer.Option(help="Input field holding the id (default: 'id' if present, else the row number).", show_default=False)] = None,
    fmt: Annotated[Optional[str], typer.Option("--format", help="Output format: jsonl, csv or parquet (default: from the output extension).", show_default=False)] = None,
    keep_fields: Annotated[Optional[str], typer.Option(help="Comma-separated input fields copied to each output record.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option(help="Continue a killed run from OUT.partial/.")] = False,
    batch_size: Annotated[Optional[int], typer.Option(min=1, help="Comments per forward pass (default: the model's, 64).", show_default=False)] = None,
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "auto",
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Model directory (default: the shipped models/default).", show_default=False)] = None,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any row was rejected.")] = False,
    encoding: Annotated[str, typer.Option(help="Text encoding of JSONL, CSV and TSV inputs, e.g. cp1252 or latin-1 for older Excel exports.")] = "utf-8",
    stdin_format: Annotated[str, typer.Option(help="What - holds: auto (JSONL, CSV/TSV, HTML or Parquet, told by the first line that is not blank), jsonl, csv, tsv, parquet or page (a plain-text or HTML page dump).")] = "auto",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Report model, settings and each committed chunk.")] = False,
    engine: Annotated[str, typer.Option(help="local (this process) or spark (tables on a Spark cluster or local[N]; OUT is a folder of Parquet partitions).")] = "local",
    master: Annotated[Optional[str], typer.Option(help="With --engine spark: the Spark master, e.g. local[2] or yarn (default: spark-submit's, else local[*]).", show_default=False)] = None,
) -> None:
    """Score comment tables and page dumps for hostility and misinformation: one output record per comment, in input order."""
    from moderation.io import RESERVED, STDIN, STDIN_FORMATS, Fields, check_encoding, check_inputs, check_output, expand_inputs, output_format

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
    if backend == "bf16":  # auto never picks an emulated bf16; a request for it gets a warning (either engine)
        from moderation.cpu import choose_backend

        if note := choose_backend(backend).note:
            typer.echo(note, err=True)
    if engine not in ENGINES:
        _fail(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if master and engine != "spark":
        _fail("--master needs --engine spark")
    if engine == "spark":
        summary = _run_spark_score(inputs, output, Fields(text_field, id_field, keep), fmt, resume, batch_size, model, backend, master,
                                   verbose, progress=not quiet and sys.stderr.isatty() and not os.environ.get("CI"))
        _report(summary, quiet, strict, f"{output}.errors/")
        return
    try:
        fields = Fields(text_field, id_field, keep, check_encoding(encoding))
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
    _report(summary, quiet, strict, f"{output}.errors.jsonl", to_stdout=str(output) == STDIN)


def _report(summary: "Summary", quiet: bool, strict: bool, errors: str, to_stdout: bool = False) -> None:
    """The summary line, and the exit code for runs that scored nothing or rejected rows under --strict."""
    if not quiet:
        typer.echo(summary.text(), err=True)
        if summary.rejected and not to_stdout:
            typer.echo(f"{summary.rejected:,} rejected rows listed in {errors}", err=True)
    if summary.scored == 0 and summary.rejected == 0 and summary.pages:
        # an article without reader comments is a normal page, not a mistake
        if not quiet:
            where = "nothing to stdout" if to_stdout else f"an empty {errors.removesuffix('.errors.jsonl')}"
            typer.echo(f"note: no comments found in {summary.pages:,} page{'s' if summary.pages > 1 else ''}; wrote {where}", err=True)
        return
    if summary.scored == 0 and summary.rejected == 0:
        _fail("nothing to score: the inputs hold no rows")
    if summary.scored == 0:
        _fail("nothing could be read: no row was scored (" + ("the rejected rows are listed above)" if to_stdout else f"see {errors})"))
    if strict and summary.rejected:
        raise typer.Exit(1)


ENGINES = ("local", "spark")


def _run_spark_score(inputs: list[str], output: Path, fields: "Fields", fmt: Optional[str], resume: bool, batch_size: Optional[int],
                     model: Optional[Path], backend: str, master: Optional[str], verbose: bool, progress: bool) -> "Summary":
    """``score --engine spark``: the tables are read, scored and written by Spark (moderation.spark)."""
    from moderation.io import STDIN

    if resume:
        _fail("--resume is for the local engine: Spark reruns failed tasks itself")
    if STDIN in inputs:
        _fail("--engine spark reads files, folders and globs, not - (stdin)")
    if fmt not in (None, "parquet") or (fmt is None and output.suffix.lower() in (".jsonl", ".csv", ".tsv", ".json")):
        _fail("--engine spark writes a folder of Parquet partitions: name --output e.g. scores.parquet")
    if "://" not in str(output) and output.exists():
        _fail(f"{output}: already exists; choose another --output or delete it")
    try:
        from pyspark.errors import PySparkException

        from moderation import spark as engine
        from moderation.scoring import WINDOW_ROWS
    except ImportError as exc:
        _fail(f"--engine spark needs pyspark ({exc}): pip install -e '.[spark]'")
    try:
        session, created = engine.session(master, WINDOW_ROWS, quiet=not verbose, progress=progress)
    except Exception as exc:  # pyspark raises several types when the JVM cannot start
        _fail(f"Spark could not start (it needs Java 17 or newer on PATH or in JAVA_HOME): {str(exc).strip().splitlines()[0]}")
    try:
        return engine.score_files(session, inputs, output, fields, model, backend, batch_size, WINDOW_ROWS)
    except ModerationError as exc:
        _fail(str(exc), exc.exit_code)
    except PySparkException as exc:
        _fail(f"Spark: {str(exc).strip().splitlines()[0]}")
    finally:
        if created:
            session.stop()


def _run_score(paths: list[str], output: Path, fmt: str, fields: "Fields", resume: bool, batch_size: Optional[int],
               model: Optional[Path], backend: str, stdin_format: str, show_progress: bool, verbose: bool) -> "Summary":
    """Load the model (heavy imports start here) and run the pipeline, with a progress bar on a TTY."""
    import torch

    from moderation.cpu import RULE
    from moderation.model import Moderator
    from moderation.scoring import Job

    scorer = Moderator.load(model, backend=backend)
    if batch_size:
        scorer.batch_size = batch_size
    if verbose:
        choice = scorer.backend_choice
        typer.echo(f"model {scorer.name}, batch size {scorer.batch_size}, {torch.get_num_threads()} torch threads", err=True)
        typer.echo(f"backend {choice.describe()}" + (f"; CPU {choice.cpu}; auto's rule: {RULE}" if choice.requested == "auto" else ""), err=True)
    if str(output) == "-":  # stdout: chunks are built in a scratch folder and streamed out one by one
        import shutil
        import tempfile

        scratch = Path(tempfile.mkdtemp(prefix="moderation-score-"))
        try:
            job = Job(paths, scratch / f"stdout.{fmt}", fmt, fields, resume, stdin_format, stream=sys.stdout.buffer)
            return _run_job(scorer, job, show_progress, verbose)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return _run_job(scorer, Job(paths, output, fmt, fields, resume, stdin_format), show_progress, verbose)


def _run_job(scorer: "Scorer", job: "Job", show_progress: bool, verbose: bool) -> "Summary":
    """Run the pipeline, with a progress bar (rate and ETA) when asked."""
    from moderation.io import estimate_rows
    from moderation.scoring import run

    def log(message: str) -> None:
        if verbose:
            typer.echo(message, err=True)

    def warn(message: str) -> None:
        typer.echo(f"warning: {message}", err=True)

    if not show_progress:
        return run(scorer, job, log=log, warn=warn)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = [TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("score", total=estimate_rows(job.inputs), rate="")
        started = time.perf_counter()
        done = 0

        def advance(n: int) -> None:
            nonlocal done
            done += n
            bar.update(task, advance=n, rate=f"{done / max(time.perf_counter() - started, 1e-9):,.0f} rows/s")

        return run(scorer, job, on_rows=advance, log=lambda m: bar.console.print(m) if verbose else None,
                   warn=lambda m: bar.console.print(f"warning: {m}", markup=False))


REPORT_EPILOG = (
    "Examples:\n\n"
    "  moderation extract dumps/*.txt --output pages.jsonl\n\n"
    "  moderation score dumps/ --output scores.jsonl\n\n"
    "  moderation report scores.jsonl --pages pages.jsonl --output report.html\n\n"
    "  moderation report scores.csv --comments comments.jsonl --text-field body --output report.html\n\n"
    "  moderation report scores.jsonl --comments dumps/ --why-limit 0 --output report.html    (no sentence scoring)\n\n"
    "The score records do not hold the comment texts: give them with --pages (moderation extract output) "
    "or --comments (the same inputs given to moderation score), or score with --keep-fields text.\n"
)


@app.command(epilog=REPORT_EPILOG)
def report(
    scores: Annotated[list[Path], typer.Argument(help="Outputs of moderation score (.jsonl, .csv or .parquet).", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.", show_default=False)],
    pages: Annotated[Optional[list[Path]], typer.Option("--pages", help="Comment texts from moderation extract output (JSONL), matched by page source and comment id.", show_default=False)] = None,
    comments: Annotated[Optional[list[str]], typer.Option("--comments", help="Comment texts from the inputs that moderation score read (tables, page dumps or folders), matched by id.", show_default=False)] = None,
    text_field: Annotated[str, typer.Option(help="Text field of --comments tables.")] = "text",
    id_field: Annotated[Optional[str], typer.Option(help="Id field of --comments tables (as given to moderation score).", show_default=False)] = None,
    model: Annotated[Optional[Path], typer.Option("--model", "-m", help="Model for the thresholds and the per-sentence 'Why' scores (default: the shipped models/default).", show_default=False)] = None,
    why_limit: Annotated[int, typer.Option(min=0, help="Explain at most this many flagged comments, highest first (0: no sentence scoring, no model load).")] = 1000,
    backend: Annotated[str, typer.Option(help=BACKEND_HELP)] = "auto",
    title: Annotated[str, typer.Option(help="Heading of the page.")] = "Moderation review",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")] = False,
) -> None:
    """Write a self-contained HTML review page (overview, queue, why, page threads, CSV label export) for scored comments."""
    from moderation import report as rep
    from moderation.io import check_output
    from moderation.model import check_model_dir, read_meta

    started = time.perf_counter()
    if output.suffix.lower() not in (".html", ".htm"):
        _fail(f"--output {output}: the report is an HTML file, name it .html")
    check_output(output, [*scores, *(pages or [])])
    meta = read_meta(check_model_dir(model))
    records = [r for path in scores for r in rep.read_scores(path)]
    if not records:
        _fail("the score files hold no records")
    lookup: dict = {}
    for path in pages or []:
        lookup.update(rep.texts_from_pages(path))
    if comments:
        lookup.update(rep.texts_from_inputs(comments, text_field, id_field))
    labels = [label for label in meta["labels"] if label not in (meta.get("withheld_labels") or {})]
    thresholds = {label: float(meta.get("thresholds", {}).get(label, 0.5)) for label in labels}
    name = f"{meta.get('name', 'moderation')}@{meta.get('version', '0')}"
    scored_by = rep.model_of(records) or name
    if scored_by != name:
        typer.echo(f"warning: the scores come from {scored_by}; thresholds and sentence scores from {name}", err=True)
    inputs = [str(p) for p in scores] + [f"texts: {p}" for p in [*(pages or []), *(comments or [])]]
    data = rep.Report(records, labels, thresholds, scored_by, inputs, rep.attach_texts(records, lookup))
    missing = sum(t is None for t in data.texts)
    if missing:
        typer.echo(f"warning: {missing:,} of {len(records):,} comments have no text in the inputs"
                   + ("" if pages or comments else " (give --pages or --comments)"), err=True)
    plan = rep.why_plan(data, why_limit) if why_limit else []
    sentences = [s for _, _, texts in plan for s in texts]
    why_seconds = 0.0
    if sentences:
        why_started = time.perf_counter()
        from moderation.model import Moderator

        scorer = Moderator.load(model, backend=backend)
        if scorer.backend_choice.note:
            typer.echo(scorer.backend_choice.note, err=True)
        rep.attach_why(data, plan, _predict_with_progress(scorer, sentences, not quiet and sys.stderr.isatty() and not os.environ.get("CI")))
        why_seconds = time.perf_counter() - why_started
    html_text = rep.render(data, title)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(html_text, encoding="utf-8")
    if not quiet:
        typer.echo(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB): {len(records):,} comments, "
                   f"{len(data.why):,} explained ({len(sentences):,} sentences scored in {why_seconds:.1f}s), "
                   f"{time.perf_counter() - started:.1f}s in all", err=True)


def _predict_with_progress(scorer, texts: list[str], show: bool, step: int = 512):  # type: ignore[no-untyped-def]
    """``predict_proba`` in steps, with a progress bar on a terminal."""
    import numpy as np

    if not show:
        return scorer.predict_proba(texts)
    from rich.progress import Progress

    parts = []
    with Progress(transient=True) as bar:
        task = bar.add_task("scoring sentences", total=len(texts))
        for start in range(0, len(texts), step):
            parts.append(scorer.predict_proba(texts[start:start + step]))
            bar.update(task, advance=len(parts[-1]))
    return np.vstack(parts)


SERVE_FLAGS = {"timeout_s": "timeout"}  # Settings fields whose flag is not the field name

SERVE_EPILOG = (
    "Examples:\n\n"
    "  moderation serve    (models/default on http://127.0.0.1:8080)\n\n"
    "  MODERATION_API_KEY=s3cret moderation serve --host 0.0.0.0 --workers 2\n\n"
    "  MODERATION_CORAL_SECRET=ss_... moderation serve --coral-threshold hostility=0.8 --coral-threshold misinformation=0.9\n\n"
    "  curl -s localhost:8080/v1/score -H 'Content-Type: application/json' -d '{\"comments\": [{\"id\": \"1\", \"text\": \"Nice piece.\"}]}'\n\n"
    "Endpoints: POST /v1/score, POST /v1alpha1/comments:analyze and :suggestscore (Perspective), "
    "POST /v1/coral (Coral Talk external moderation), POST /v1/review and GET /review (the review page), "
    "GET /healthz, /readyz, /metrics. "
    "Stop with SIGTERM or Ctrl-C: in-flight requests finish first.\n"
)


@app.command(epilog=SERVE_EPILOG)
def serve(
    model: Annotated[Optional[Path], typer.Option("--model", "-m", metavar="DIR", help="Model directory \\[default: the shipped models/default].", show_default=False)] = None,
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Address to listen on (0.0.0.0 for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, metavar="PORT", help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, metavar="N", help="Processes; each loads the model and shares the cores.")] = 1,
    api_key_env: Annotated[Optional[str], typer.Option(metavar="VAR", help="Variable holding the API key clients must send (X-API-Key or ?key=) \\[default: MODERATION_API_KEY, if set].", show_default=False)] = None,
    coral_secret_env: Annotated[str, typer.Option(metavar="VAR", help="Variable holding Coral's signing secret (enables POST /v1/coral).")] = "MODERATION_CORAL_SECRET",
    metrics_token_env: Annotated[Optional[str], typer.Option(metavar="VAR", help="Variable holding a token GET /metrics then requires as 'Authorization: Bearer TOKEN' (default: /metrics is open).", show_default=False)] = None,
    threshold: Annotated[Optional[list[str]], typer.Option(metavar="LABEL=P", help="LABEL=P: override the model's threshold for the labels returned (repeatable).", show_default=False)] = None,
    coral_threshold: Annotated[Optional[list[str]], typer.Option(metavar="LABEL=P", help="LABEL=P: flag in Coral when a label scores above P (repeatable) \\[default: hostility=0.8].", show_default=False)] = None,
    coral_status: Annotated[str, typer.Option(metavar="STATUS", help="Coral status for flagged comments: SYSTEM_WITHHELD, PREMOD, REJECTED or NONE.")] = "SYSTEM_WITHHELD",
    max_body_bytes: Annotated[int, typer.Option(min=1, metavar="BYTES", help="Larger request bodies get 413.")] = 1_000_000,
    max_comments: Annotated[int, typer.Option(min=1, metavar="N", help="More comments in one request get 413.")] = 256,
    queue_size: Annotated[int, typer.Option(min=1, metavar="N", help="Comments waiting for the model; beyond it, 503 with Retry-After.")] = 2048,
    max_batch: Annotated[int, typer.Option(min=1, metavar="N", help="Comments per forward pass.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(min=0, metavar="MS", help="How long a comment may wait for others to share its forward pass.")] = 5.0,
    forward_batch: Annotated[Optional[int], typer.Option(min=1, metavar="N", help="Sub-batch size inside a forward pass (length-sorted, so less padding; default: 16 on torch, 64 on bf16).", show_default=False)] = None,
    timeout: Annotated[float, typer.Option(min=0.001, metavar="SECONDS", help="Per-request timeout in seconds, queueing included (504 past it).")] = 30.0,
    feedback_dir: Annotated[Path, typer.Option(metavar="DIR", help="Where comments:suggestscore writes label files.")] = Path("feedback"),
    log_text: Annotated[bool, typer.Option("--log-text", help="Also log comment texts (off: texts never reach the log).")] = False,
    log_level: Annotated[str, typer.Option(metavar="LEVEL", help="debug, info, warning or error.")] = "info",
    backend: Annotated[str, typer.Option(metavar="NAME", help=BACKEND_HELP)] = "auto",
) -> None:
    """Serve the model over HTTP: native batch API, Perspective-compatible API and Coral Talk moderation."""
    from moderation.model import check_model_dir
    from moderation.service.server import serve as run_server
    from moderation.service.settings import DEFAULT_API_KEY_ENV, Settings

    for flag, name in (("--api-key-env", api_key_env), ("--metrics-token-env", metrics_token_env)):
        if name and not os.environ.get(name):
            _fail(f"{flag} {name}: that environment variable is not set")
    path = check_model_dir(model)  # a missing or broken model fails here, before the port is bound
    try:
        settings = Settings(
            model_dir=str(path), host=host, port=port, workers=workers,
            api_key_env=api_key_env or DEFAULT_API_KEY_ENV, coral_secret_env=coral_secret_env, metrics_token_env=metrics_token_env,
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
