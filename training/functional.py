"""Behavioural test suite (CheckList / HateCheck style): hand-written cases grouped by
functionality, each saying which labels must or must not be flagged at the model's stored
thresholds. The cases live in ``tests/functional/cases.jsonl`` and are never used for training.

    python -m training.functional models/default [--json functional.json]
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Optional, Protocol

import numpy as np
import typer

from moderation.labels import LABELS
from training.data import text_key

REPO = Path(__file__).resolve().parents[1]
CASES_FILE = REPO / "tests" / "functional" / "cases.jsonl"
#: Training templates of our own (issue 16); the suite's texts must not occur in them.
TEMPLATES_DIR = REPO / "training" / "templates"
#: Labels a case may expect. "claim" (check-worthy) is left out: whether a sentence is
#: check-worthy is too often arguable to make a pass/fail test of it.
SUITE_LABELS: tuple[str, ...] = tuple(l for l in LABELS if l != "claim")
OVERALL_TARGET = 0.90
FUNCTIONALITY_TARGET = 0.75
#: Shortest key (in characters) looked for inside a longer text; shorter texts ("hello",
#: "Thanks!") only count when a whole line or quoted string is the same text.
MIN_SUBSTRING_KEY = 20


class Scorer(Protocol):
    labels: list[str]
    thresholds: dict[str, float]

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class Case:
    id: str
    functionality: str
    text: str
    expect: dict[str, int]


@dataclass
class CaseResult:
    id: str
    functionality: str
    passed: bool
    expect: dict[str, int]
    scores: dict[str, float]  # probability of every expected label the model has
    wrong: list[str]  # expected labels whose flag differs from the expectation
    missing: list[str]  # expected labels the model does not have (the case fails)


@dataclass
class FunctionalReport:
    results: list[CaseResult]
    per_functionality: dict[str, dict[str, Any]]  # name -> {"n", "passed", "pass_rate"}
    overall: float
    missing_labels: list[str] = field(default_factory=list)

    def below(self, target: float = FUNCTIONALITY_TARGET) -> list[str]:
        """Functionalities whose pass rate is under ``target``."""
        return [name for name, f in self.per_functionality.items() if f["pass_rate"] < target]

    def passed(self) -> bool:
        """Whether the issue's acceptance holds: overall and every functionality at their targets."""
        return self.overall >= OVERALL_TARGET and not self.below()

    def summary(self) -> dict[str, Any]:
        """The figures stored in the metrics and shown on the card (no per-case detail)."""
        return {
            "n": len(self.results),
            "overall": self.overall,
            "per_functionality": self.per_functionality,
            "below_target": self.below(),
            "missing_labels": self.missing_labels,
            "targets": {"overall": OVERALL_TARGET, "functionality": FUNCTIONALITY_TARGET},
            "passed": self.passed(),
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "results": [asdict(r) for r in self.results]}


class CaseError(ValueError):
    """A malformed suite file; the message names every bad line."""


def _check_case(row: Any, seen: set[str]) -> str | None:
    """The problem with one parsed line, or None."""
    if not isinstance(row, dict):
        return "not a JSON object"
    for key in ("id", "functionality", "text"):
        if not isinstance(row.get(key), str) or not row[key].strip():
            return f"'{key}' missing or not a non-empty string"
    if row["id"] in seen:
        return f"duplicate id {row['id']!r}"
    expect = row.get("expect")
    if not isinstance(expect, dict) or not expect:
        return "'expect' missing or not a non-empty mapping of label to 0/1"
    for label, value in expect.items():
        if label not in SUITE_LABELS:
            return f"unknown label {label!r} in 'expect' (known: {', '.join(SUITE_LABELS)})"
        if value not in (0, 1) or isinstance(value, bool):
            return f"'expect' value for {label} is {value!r}, not 0 or 1"
    return None


def load_cases(path: str | Path | None = None) -> list[Case]:
    """Read and validate a suite file (JSONL, one case per line; blank lines ignored)."""
    path = Path(path) if path is not None else CASES_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CaseError(f"{path}: cannot read ({exc})") from None
    cases, problems, seen = [], [], set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{path} line {number}: not JSON ({exc.msg})")
            continue
        problem = _check_case(row, seen)
        if problem:
            problems.append(f"{path} line {number}: {problem}")
            continue
        seen.add(row["id"])
        cases.append(Case(row["id"], row["functionality"], row["text"], {k: int(v) for k, v in row["expect"].items()}))
    if problems:
        raise CaseError("; ".join(problems))
    if not cases:
        raise CaseError(f"{path}: no cases")
    return cases


def run_suite(moderator: Scorer, cases: Sequence[Case], withheld: Sequence[str] = ()) -> FunctionalReport:
    """Score every case once and check each expected label's flag (probability >= the stored threshold).

    Expectations on ``withheld`` labels (heads the model does not emit) are dropped, and a case left
    with none is not counted.
    """
    cases = [Case(c.id, c.functionality, c.text, {l: v for l, v in c.expect.items() if l not in withheld}) for c in cases]
    cases = [c for c in cases if c.expect]
    probs = np.asarray(moderator.predict_proba([c.text for c in cases]), dtype=float)
    column = {label: i for i, label in enumerate(moderator.labels)}
    results, missing_labels = [], set()
    for case, row in zip(cases, probs):
        missing = [l for l in case.expect if l not in column]
        missing_labels.update(missing)
        scores = {l: float(row[column[l]]) for l in case.expect if l in column}
        wrong = [l for l, p in scores.items() if int(p >= moderator.thresholds[l]) != case.expect[l]]
        results.append(CaseResult(case.id, case.functionality, not wrong and not missing, dict(case.expect), scores, wrong, missing))
    per: dict[str, dict[str, Any]] = {}
    for r in results:
        f = per.setdefault(r.functionality, {"n": 0, "passed": 0})
        f["n"] += 1
        f["passed"] += int(r.passed)
    for f in per.values():
        f["pass_rate"] = f["passed"] / f["n"]
    overall = sum(r.passed for r in results) / len(results) if results else float("nan")
    return FunctionalReport(results, per, overall, sorted(missing_labels))


def label_pass_rates(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per label and functionality, the share of that label's expectations the model met (from ``to_dict()["results"]``)."""
    counts: dict[str, dict[str, list[int]]] = {}
    for r in results:
        for label in r["expect"]:
            met = label not in r["wrong"] and label not in r["missing"]
            cell = counts.setdefault(label, {}).setdefault(r["functionality"], [0, 0])
            cell[0] += int(met)
            cell[1] += 1
    return {label: {f: ok / n for f, (ok, n) in per.items()} for label, per in counts.items()}


def markdown_table(summary: dict[str, Any]) -> str:
    """Per-functionality pass rates as a Markdown table (for the model card), from `FunctionalReport.summary`."""
    rows = ["| Functionality | cases | passed | pass rate |", "|---|---|---|---|"]
    for name, f in summary["per_functionality"].items():
        mark = " (below target)" if name in summary["below_target"] else ""
        rows.append(f"| {name} | {f['n']} | {f['passed']} | {f['pass_rate']:.2f}{mark} |")
    rows.append(f"| **overall** | {summary['n']} | {round(summary['overall'] * summary['n'])} | **{summary['overall']:.2f}** |")
    return "\n".join(rows)


# --- leakage check against training templates -------------------------------------------------

def overlap_key(text: str) -> str:
    """`training.data.text_key` for Latin-script text; other scripts (Chinese) keep their letters,
    since text_key would reduce them to nothing."""
    return text_key(text) if text.isascii() else re.sub(r"[\W_]+", "", text.casefold())


def _segments(raw: str) -> Iterable[str]:
    """Lines of a file, and the double-quoted strings and JSON string values inside them."""
    for line in raw.splitlines():
        yield line
        yield from re.findall(r'"((?:[^"\\]|\\.)*)"', line)
        try:
            value = json.loads(line)
        except ValueError:
            continue
        stack = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)


def overlapping_cases(cases: Sequence[Case], path: str | Path) -> list[str]:
    """Ids of cases whose text occurs in the file at ``path``, compared by `overlap_key`.

    A case occurs when a line or quoted string of the file has the same key, or, for keys of at
    least MIN_SUBSTRING_KEY characters, contains it (so a suite sentence inside a longer template
    counts, while "hello" inside "hello there" does not).
    """
    raw = Path(path).read_text(encoding="utf-8", errors="replace")
    keys = {overlap_key(s) for s in _segments(raw)}
    keys.discard("")
    hits = []
    for case in cases:
        key = overlap_key(case.text)
        if key in keys or (len(key) >= MIN_SUBSTRING_KEY and any(key in k for k in keys)):
            hits.append(case.id)
    return hits


def template_files(folder: Path = TEMPLATES_DIR) -> list[Path]:
    """Every file under the training templates folder (none when it does not exist)."""
    return sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts) if folder.is_dir() else []


# --- command line -------------------------------------------------------------------------------

def _print_table(report: FunctionalReport) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Functional tests: {len(report.results)} cases")
    for column in ("functionality", "cases", "passed", "pass rate"):
        table.add_column(column, justify="left" if column == "functionality" else "right")
    below = set(report.below())
    for name, f in report.per_functionality.items():
        style = "red" if name in below else None
        table.add_row(name, str(f["n"]), str(f["passed"]), f"{f['pass_rate']:.2f}", style=style)
    table.add_row("overall", str(len(report.results)), str(sum(r.passed for r in report.results)), f"{report.overall:.2f}", style="bold")
    console = Console(width=100)
    console.print(table)
    verdict = "meets" if report.passed() else "misses"
    console.print(f"{verdict} the targets (overall >= {OVERALL_TARGET}, each functionality >= {FUNCTIONALITY_TARGET})"
                  + (f"; below {FUNCTIONALITY_TARGET}: {', '.join(report.below())}" if report.below() else ""))
    if report.missing_labels:
        console.print(f"the model has no {', '.join(report.missing_labels)} label: cases expecting it fail")


app = typer.Typer(add_completion=False)


@app.command(
    epilog="Examples:\n\n  python -m training.functional models/default\n\n"
    "  python -m training.functional runs/default --json runs/functional.json\n"
)
def main(
    model_dir: Annotated[Path, typer.Argument(help="Model directory to test.")],
    json_out: Annotated[Optional[Path], typer.Option("--json", help="Also write the full report (every case's scores) here.")] = None,
    cases_file: Annotated[Optional[Path], typer.Option("--cases", help="Suite file (default: tests/functional/cases.jsonl).")] = None,
) -> None:
    """Run the behavioural suite on a model and print pass rates per functionality (exit 0 whatever the rates)."""
    from moderation.errors import ModelError
    from moderation.model import Moderator

    try:
        cases = load_cases(cases_file)
        moderator = Moderator.load(model_dir, backend="torch")  # fp32, like every reported figure
    except (CaseError, ModelError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    report = run_suite(moderator, cases)
    _print_table(report)
    if json_out:
        try:
            json_out.write_text(json.dumps({"model": moderator.name, **report.to_dict()}, indent=1, ensure_ascii=False) + "\n")
        except OSError as exc:
            typer.echo(f"error: cannot write {json_out}: {exc.strerror or exc}", err=True)
            raise typer.Exit(2) from None
        typer.echo(f"wrote {json_out}")


if __name__ == "__main__":
    app()
