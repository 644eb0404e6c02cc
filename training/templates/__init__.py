"""Labelled template sentences: hand-written frames × slot lists, a training source for the
behaviours the crawled sources teach badly (threat vs. idiom, profanity vs. hostility, group
names vs. attacks on groups, true vs. false facts vs. opinions).

    python -c "from training.templates import generate_templates; print(generate_templates().sample(5))"

The data files beside this module (``slots.yaml``, ``families.yaml``, ``facts.yaml``) are the
whole content; the code only expands them. None of the sentences is taken from the held-out
functional suite (``tests/functional/``). Listed in a config as the source ``templates``
(``training.data.load_templates``); validation on it is optimistic (see docs/templates.md).
"""

from __future__ import annotations

import itertools
import re
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from moderation.labels import LABELS, MISSING

HERE = Path(__file__).resolve().parent
_SLOT = re.compile(r"\{([A-Za-z_]+?)(\d*)\}")
_AN = re.compile(r"\b([Aa]) (?!(?i:use|uni|eu|one))([aeiouAEIOU])")
# Every label is stated for a fact: a fact is a claim, and says nothing hostile.
FACT_LABELS = {"hostility": 0, "insult": 0, "threat": 0, "identity_attack": 0, "profanity": 0, "claim": 1}


@cache
def _load(name: str) -> dict:
    return yaml.safe_load((HERE / name).read_text(encoding="utf-8"))


def _tidy(text: str) -> str:
    """Collapse the gaps an empty slot leaves and capitalise the first letter."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([.,!?;:])", r"\1", text)
    text = _AN.sub(r"\1n \2", text)  # "a interesting" -> "an interesting"
    return text[:1].upper() + text[1:]


def _fill(frame: str, values: dict[str, str]) -> str:
    def sub(m: re.Match) -> str:
        key = m.group(1) + m.group(2)
        value = values[key.lower()]
        return value[:1].upper() + value[1:] if m.group(1)[0].isupper() else value
    return _tidy(_SLOT.sub(sub, frame))


def _expand(frame: str, slots: dict[str, list[str]], quota: int, rng: np.random.Generator) -> list[str]:
    """Up to ``quota`` distinct fillings of one frame, drawn without replacement."""
    keys = list(dict.fromkeys((m.group(1) + m.group(2)).lower() for m in _SLOT.finditer(frame)))
    lists = [slots[re.sub(r"\d+$", "", k)] for k in keys]
    combos = list(itertools.product(*[range(len(v)) for v in lists]))
    pick = rng.permutation(len(combos))[:quota]
    out = []
    for i in pick:
        values = {k: lst[j] for k, lst, j in zip(keys, lists, combos[i])}
        # Two draws from the same list ({noun} and {noun2}) must differ.
        drawn = [(re.sub(r"\d+$", "", k), v) for k, v in values.items()]
        if len(set(drawn)) < len(drawn):
            continue
        out.append(_fill(frame, values))
    return out


def _rows(texts: list[str], family: str, labels: dict[str, float]) -> pd.DataFrame:
    unknown = set(labels) - set(LABELS)
    if unknown:
        raise ValueError(f"template family {family!r}: unknown labels {sorted(unknown)}")
    df = pd.DataFrame({"text": texts, "family": family})
    for name in LABELS:
        df[name] = np.float32(labels.get(name, MISSING))
    return df


def _frame_families(seed: int) -> list[pd.DataFrame]:
    shared = _load("slots.yaml")
    parts = []
    for family, spec in _load("families.yaml")["families"].items():
        rng = np.random.default_rng([seed, zlib.crc32(family.encode())])
        slots = {**shared, **spec.get("slots", {})}
        frames = spec["frames"]
        quota = -(-spec["size"] // len(frames))
        texts = [t for frame in frames for t in _expand(frame, slots, quota, rng)]
        parts.append(_rows(texts, family, spec["labels"]))
    return parts


#: Families added after a recipe's first stages were trained: the German and Portuguese group
#: families (stage 3 of moderation-e5) and the stage-4 ones. A config names them in the templates
#: source's ``add_families``; without it they are left out, so the configs of earlier stages keep
#: building the very tables they were trained on.
OPT_IN = frozenset({"group_neutral_de", "group_neutral_pt", "dehumanising_de", "dehumanising_pt",
                    "group_contempt", "group_fair", "known_true", "commenter_insult", "commenter_fair",
                    "political_dehumanising", "coercive_threat", "political_fair"})


def check_families(option: str, names: object) -> None:
    """Reject a templates ``add_families`` (opt-in names) or ``drop_families`` (any family) option
    that is not a list of such names."""
    if isinstance(names, str) or not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"source 'templates': {option} must be a list of family names, not {names!r}")
    allowed, kind = (OPT_IN, "opt-in family") if option == "add_families" else (family_names(), "family")
    if unknown := sorted(set(names) - allowed):
        raise ValueError(f"source 'templates': no {kind} {', '.join(map(repr, unknown))}; "
                         f"{kind.replace('family', 'families')}: {', '.join(sorted(allowed))}")


@cache
def family_names() -> frozenset[str]:
    return frozenset(generate_templates(0)["family"])


def _wrong(rng: np.random.Generator, options: list, right) -> object:
    """A value from ``options`` other than ``right``."""
    return rng.choice([o for o in options if o != right])


def _fact_families(seed: int) -> list[pd.DataFrame]:
    facts = _load("facts.yaml")
    rng = np.random.default_rng([seed, zlib.crc32(b"facts")])
    true: dict[str, list[str]] = {}
    false: dict[str, list[str]] = {}

    def add(family: str, frame: str, right: dict, wrong: dict) -> None:
        true.setdefault(family, []).append(_fill(frame, {k.lower(): str(v) for k, v in right.items()}))
        false.setdefault(family, []).append(_fill(frame, {k.lower(): str(v) for k, v in wrong.items()}))

    capitals = facts["capitals"]
    for country, capital in capitals.items():
        for frame in facts["capital_frames"]:
            add("fact_capital", frame, {"country": country, "capital": capital},
                {"country": country, "capital": _wrong(rng, list(capitals.values()), capital)})

    elements = facts["elements"]
    for element, (symbol, number) in elements.items():
        for frame in facts["element_frames"]["symbol"]:
            add("fact_element", frame, {"element": element, "symbol": symbol},
                {"element": element, "symbol": _wrong(rng, [s for s, _ in elements.values()], symbol)})
        for frame in facts["element_frames"]["number"]:
            add("fact_element", frame, {"element": element, "number": number},
                {"element": element, "number": _wrong(rng, [n for _, n in elements.values()], number)})

    for planet, ordinal in zip(facts["planets"], facts["ordinals"]):
        for frame in facts["planet_frames"]:
            add("fact_planet", frame, {"planet": planet, "ordinal": ordinal},
                {"planet": planet, "ordinal": _wrong(rng, facts["ordinals"], ordinal)})

    wrappers = facts["claim_frames"]
    for event, year in facts["events"].items():
        for frame in rng.choice(wrappers, size=3, replace=False):
            for offset in rng.choice([-30, -12, -7, -3, -2, 2, 3, 5, 11, 25], size=1):
                clause_true = event.replace("{year}", str(year))
                clause_false = event.replace("{year}", str(year + int(offset)))
                add("fact_event", frame, {"clause": clause_true}, {"clause": clause_false})

    for count, small, big in facts["units"]:
        for frame in facts["unit_frames"]:
            wrong = int(_wrong(rng, sorted({c for c, _, _ in facts["units"]} | {count * 2, count // 2 or 2}), count))
            add("fact_unit", frame, {"count": count, "small": small, "big": big}, {"count": wrong, "small": small, "big": big})

    for _ in range(120):  # arithmetic with small numbers, as words a reader would write them
        a, b = (int(x) for x in rng.integers(2, 60, size=2))
        op, frame = [("plus", "{a} plus {b} equals {c}."), ("times", "{a} times {b} is {c}."),
                     ("minus", "{a} minus {b} makes {c}.")][int(rng.integers(3))]
        a, b = max(a, b), min(a, b)
        c = {"plus": a + b, "times": a * b, "minus": a - b}[op]
        add("fact_arithmetic", frame, {"a": a, "b": b, "c": c}, {"a": a, "b": b, "c": c + int(rng.choice([-10, -2, -1, 1, 3, 10]))})

    for right, wrong in facts["statements"]:
        for frame in rng.choice(wrappers, size=5, replace=False):
            add("fact_statement", frame, {"clause": right}, {"clause": wrong})

    known_rng = np.random.default_rng([seed, zlib.crc32(b"known")])  # own stream: the draws above and below stay as they were
    for clause in facts["true_only"]:
        for frame in known_rng.choice(wrappers, size=4, replace=False):
            true.setdefault("known", []).append(_fill(frame, {"clause": clause}))

    hoaxes = [_fill(frame, {"clause": h}) for h in facts["hoaxes"] for frame in rng.choice(wrappers, size=5, replace=False)]
    parts = [_rows(texts, f"{fam}_true", {**FACT_LABELS, "misinformation": 0}) for fam, texts in true.items()]
    parts += [_rows(texts, f"{fam}_false", {**FACT_LABELS, "misinformation": 1}) for fam, texts in false.items()]
    parts.append(_rows(hoaxes, "hoax", {**FACT_LABELS, "misinformation": 1}))
    return parts


def generate_templates(seed: int = 0) -> pd.DataFrame:
    """All template families as one frame: ``text``, ``family`` and one float column per label
    (1, 0, or ``MISSING`` where the family says nothing about the label). Deterministic per seed."""
    df = pd.concat(_frame_families(seed) + _fact_families(seed), ignore_index=True)
    # A sentence two families produce keeps its first family (frame families come first).
    return df.drop_duplicates("text").reset_index(drop=True)
