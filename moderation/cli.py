"""The ``moderation`` command-line tool: one function per command.

Heavy imports (torch, transformers, datasets, training code) happen inside the
commands that need them, so ``moderation --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from moderation.errors import ModerationError

app = typer.Typer(
    name="moderation",
    help="Extract reader comments from page dumps and score them for hostility and misinformation.",
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


def main() -> None:
    """Console-script entry point: user mistakes become one-line errors."""
    try:
        app()
    except ModerationError as exc:
        _fail(str(exc), exc.exit_code)


if __name__ == "__main__":
    main()
