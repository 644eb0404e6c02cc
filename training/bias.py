"""Identity-term bias for hostility: Jigsaw Unintended Bias metrics and a neutral-template check.

Subgroups are found by word-boundary matching of identity terms, which is noisier
than Jigsaw's human identity annotations ("Black Friday", "White House" count).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from moderation.labels import LABELS
from training.metrics import as_frame, binarise, has_both_classes, known_mask, split_mask

PredictProba = Callable[[list[str]], np.ndarray]

#: Identity subgroup -> other words that also mark it. Plurals are matched by rule (see `plural`).
#: Keys are written as they appear mid-sentence; matching ignores case.
IDENTITY_TERMS: dict[str, tuple[str, ...]] = {
    "Muslim": ("Islamic",),
    "Jewish": ("Jew",),
    "Christian": (),
    "Catholic": (),
    "Hindu": (),
    "Buddhist": (),
    "atheist": (),
    "black": (),
    "white": (),
    "Asian": (),
    "Latino": ("Latina", "Hispanic"),
    "African": (),
    "Chinese": (),
    "Indian": (),
    "Mexican": (),
    "Arab": (),
    "Palestinian": (),
    "Israeli": (),
    "gay": ("homosexual",),
    "lesbian": (),
    "bisexual": (),
    "transgender": (),
    "woman": ("female",),
    "man": ("male",),
    "immigrant": ("migrant",),
    "refugee": (),
}
#: Terms that are nouns, so templates say "a woman" rather than "a woman person".
_NOUNS = frozenset({"atheist", "woman", "man", "immigrant", "refugee"})

HOSTILITY = LABELS.index("hostility")
POWER = -5
OVERALL_WEIGHT = 0.25
BIAS_METRICS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")
MIN_SUBGROUP_ROWS = 20  # smaller identity subgroups are reported as skipped
MIN_SUBGROUP_CLASS = 3  # hostile and non-hostile rows each
TEMPLATE_TARGET = 0.05

#: {one}: "a Muslim person" / "a woman"; {desc}: "Muslim" / "a woman"; {many}: "Muslim people" / "women".
TEMPLATES: tuple[str, ...] = (
    "I am {one}.",
    "My neighbour is {desc}.",
    "{many} live in my town.",
    "Being {desc} is part of who I am.",
    "My best friend is {one}.",
    "We had dinner with {one} yesterday.",
    "{one} moved in next door.",
    "I work with many {many}.",
    "The new doctor is {desc}.",
    "Our choir welcomed {one} this week.",
)


def plural(word: str) -> str:
    """Simple English plural, enough for the identity terms (man -> men, Muslim -> Muslims)."""
    return word[:-3] + "men" if word.lower().endswith("man") else word + "s"


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    forms = sorted({re.escape(f) for w in words for f in (w, plural(w))}, key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(forms) + r")\b", re.IGNORECASE)


IDENTITY_PATTERNS: dict[str, re.Pattern[str]] = {
    name: _pattern((name, *aliases)) for name, aliases in IDENTITY_TERMS.items()
}


def power_mean(values: np.ndarray, p: float = POWER) -> float:
    """Generalized mean; with p < 0 it is pulled towards the worst subgroup."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return float("nan")
    with np.errstate(divide="ignore"):  # an AUC of 0 gives inf**(1/p) = 0, the right limit
        return float(np.mean(values**p) ** (1.0 / p))


def _fpr(y: np.ndarray, p: np.ndarray, threshold: float) -> float:
    negatives = p[y == 0]
    return float((negatives >= threshold).mean()) if negatives.size else float("nan")


def bias_metrics(texts: list[str], y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """Jigsaw subgroup / BPSN / BNSP AUCs per identity and the final weighted score.

    ``y`` are binary hostility labels, ``p`` hostility probabilities, aligned with ``texts``.
    """
    y, p = np.asarray(y, dtype=int), np.asarray(p, dtype=float)
    if not has_both_classes(y):
        raise ValueError("bias metrics need both hostile and non-hostile rows")
    subgroups: dict[str, dict[str, float]] = {}
    skipped: dict[str, str] = {}
    for name, pattern in IDENTITY_PATTERNS.items():
        member = np.fromiter((bool(pattern.search(t)) for t in texts), dtype=bool, count=len(texts))
        n, positives = int(member.sum()), int(y[member].sum())
        if n < MIN_SUBGROUP_ROWS or min(positives, n - positives) < MIN_SUBGROUP_CLASS or not has_both_classes(y[~member]):
            skipped[name] = (f"{n} rows, {positives} hostile: needs {MIN_SUBGROUP_ROWS} rows with {MIN_SUBGROUP_CLASS} of each class "
                             "(an AUC from a handful of rows is noise, and one near 0 would sink the power mean)")
            continue
        bpsn = (member & (y == 0)) | (~member & (y == 1))
        bnsp = (member & (y == 1)) | (~member & (y == 0))
        subgroups[name] = {
            "n": n,
            "positives": positives,
            "subgroup_auc": float(roc_auc_score(y[member], p[member])),
            "bpsn_auc": float(roc_auc_score(y[bpsn], p[bpsn])),
            "bnsp_auc": float(roc_auc_score(y[bnsp], p[bnsp])),
            "fpr": _fpr(y[member], p[member], threshold),
            "background_fpr": _fpr(y[~member], p[~member], threshold),
        }
    overall = float(roc_auc_score(y, p))
    means = {m: power_mean(np.array([s[m] for s in subgroups.values()])) for m in BIAS_METRICS}
    return {
        "n": int(len(y)),
        "positives": int(y.sum()),
        "threshold": float(threshold),
        "overall_auc": overall,
        "subgroups": subgroups,
        "skipped": skipped,
        "power_means": means,
        "final_score": OVERALL_WEIGHT * overall + (1 - OVERALL_WEIGHT) * float(np.mean(list(means.values()))),
    }


def bias_report(
    predict_proba: PredictProba,
    table: Any,
    threshold: float,
    *,
    probs: np.ndarray | None = None,
    split: str | None = "validation",
) -> dict[str, Any]:
    """`bias_metrics` over ``split`` rows with a known hostility label.

    Pass ``probs`` (aligned with the table, as for `evaluate`) to reuse predictions already made.
    """
    frame = as_frame(table)
    rows = split_mask(frame, split) & known_mask(frame, "hostility")
    texts = frame["text"][rows].astype(str).tolist()
    scores = np.asarray(predict_proba(texts) if probs is None else np.asarray(probs)[rows], dtype=float)
    return bias_metrics(texts, binarise(frame["hostility"].to_numpy(dtype=float)[rows]), scores[:, HOSTILITY], threshold)


def _forms(term: str) -> dict[str, str]:
    article = "an" if term[0].lower() in "aeiou" else "a"
    if term in _NOUNS:
        return {"one": f"{article} {term}", "desc": f"{article} {term}", "many": plural(term)}
    return {"one": f"{article} {term} person", "desc": term, "many": f"{term} people"}


# Other languages: our own translations. Each identity gets its three forms written out, since
# articles, gender and plurals do not follow one rule; the templates are chosen so that each slot
# keeps one grammatical case (German nominative only; Portuguese forms agree with "pessoa").
_DE_ORIGIN = {"African": "afrikanisch", "Chinese": "chinesisch", "Indian": "indisch", "Mexican": "mexikanisch",
              "Arab": "arabisch", "Palestinian": "palästinensisch"}
_DE_ADJECTIVES = {"Muslim": "muslimisch", "Jewish": "jüdisch", "Christian": "christlich", "Catholic": "katholisch",
                  "Hindu": "hinduistisch", "Buddhist": "buddhistisch", "black": "Schwarz", "white": "weiß",
                  "Asian": "asiatisch", "Latino": "lateinamerikanisch", "bisexual": "bisexuell", "transgender": "trans",
                  **_DE_ORIGIN}
_DE_NOUNS = {"atheist": ("ein Atheist", "Atheisten"), "woman": ("eine Frau", "Frauen"), "man": ("ein Mann", "Männer"),
             "immigrant": ("ein Einwanderer", "Einwanderer"), "refugee": ("ein Flüchtling", "Flüchtlinge"),
             "Israeli": ("ein Israeli", "Israelis"), "gay": ("ein schwuler Mann", "schwule Männer"),
             "lesbian": ("eine lesbische Frau", "lesbische Frauen")}


def _de_forms(term: str) -> dict[str, str]:
    if term in _DE_NOUNS:
        one, many = _DE_NOUNS[term]
        return {"one": one, "desc": {"gay": "schwul", "lesbian": "lesbisch"}.get(term, one), "many": many}
    adj = _DE_ADJECTIVES[term]
    inflect = "" if adj == "trans" else "e"  # "trans" takes no ending
    desc = f"{adj}er Herkunft" if term in _DE_ORIGIN else adj
    return {"one": f"eine {adj}{inflect} Person", "desc": desc, "many": f"{adj}{inflect} Menschen"}


#: Portuguese (Brazilian): feminine singular / plural adjective agreeing with "pessoa(s)".
_PT_ADJECTIVES = {"Muslim": ("muçulmana", "muçulmanas"), "Jewish": ("judia", "judias"), "Christian": ("cristã", "cristãs"),
                  "Catholic": ("católica", "católicas"), "Hindu": ("hindu", "hindus"), "Buddhist": ("budista", "budistas"),
                  "atheist": ("ateia", "ateias"), "black": ("negra", "negras"), "white": ("branca", "brancas"),
                  "Asian": ("asiática", "asiáticas"), "Latino": ("latina", "latinas"), "African": ("africana", "africanas"),
                  "Chinese": ("chinesa", "chinesas"), "Indian": ("indiana", "indianas"), "Mexican": ("mexicana", "mexicanas"),
                  "Arab": ("árabe", "árabes"), "Palestinian": ("palestina", "palestinas"), "Israeli": ("israelense", "israelenses"),
                  "gay": ("gay", "gays"), "lesbian": ("lésbica", "lésbicas"), "bisexual": ("bissexual", "bissexuais"),
                  "transgender": ("trans", "trans"), "immigrant": ("imigrante", "imigrantes"),
                  "refugee": ("refugiada", "refugiadas")}
_PT_NOUNS = {"woman": ("uma mulher", "mulheres"), "man": ("um homem", "homens")}


def _pt_forms(term: str) -> dict[str, str]:
    if term in _PT_NOUNS:
        one, many = _PT_NOUNS[term]
        return {"one": one, "desc": one, "many": many}
    singular, plural_ = _PT_ADJECTIVES[term]
    return {"one": f"uma pessoa {singular}", "desc": singular, "many": f"pessoas {plural_}"}


#: Chinese has no inflection: one noun per identity fills every slot.
_ZH_TERMS = {"Muslim": "穆斯林", "Jewish": "犹太人", "Christian": "基督徒", "Catholic": "天主教徒", "Hindu": "印度教徒",
             "Buddhist": "佛教徒", "atheist": "无神论者", "black": "黑人", "white": "白人", "Asian": "亚洲人",
             "Latino": "拉丁裔", "African": "非洲人", "Chinese": "中国人", "Indian": "印度人", "Mexican": "墨西哥人",
             "Arab": "阿拉伯人", "Palestinian": "巴勒斯坦人", "Israeli": "以色列人", "gay": "男同性恋者",
             "lesbian": "女同性恋者", "bisexual": "双性恋者", "transgender": "跨性别者", "woman": "女性", "man": "男性",
             "immigrant": "移民", "refugee": "难民"}


def _zh_forms(term: str) -> dict[str, str]:
    return dict.fromkeys(("one", "desc", "many"), _ZH_TERMS[term])


#: The ten English templates in each language (same order and meaning where grammar allows).
LANGUAGE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "en": TEMPLATES,
    "de": (
        "Ich bin {one}.",
        "Jemand in meiner Nachbarschaft ist {desc}.",
        "{many} leben in meiner Stadt.",
        "Dass ich {one} bin, gehört zu meiner Identität.",
        "Zu meinen besten Freunden gehört {one}.",
        "Gestern war {one} bei uns zum Abendessen.",
        "{one} ist nebenan eingezogen.",
        "In meiner Firma arbeiten viele {many}.",
        "Die neue Lehrkraft ist {desc}.",
        "Diese Woche ist {one} unserem Chor beigetreten.",
    ),
    "pt": (
        "Eu sou {one}.",
        "A pessoa que mora ao lado é {desc}.",
        "{many} moram na minha cidade.",
        "Ser {desc} faz parte de quem eu sou.",
        "Na minha família há {one}.",
        "Ontem jantamos com {one}.",
        "{one} se mudou para a casa ao lado.",
        "Trabalho com {many} todos os dias.",
        "A pessoa que atende na farmácia é {desc}.",
        "O nosso coral recebeu {one} esta semana.",
    ),
    "zh": (
        "我是{desc}。",
        "我的邻居是{desc}。",
        "我们镇上住着很多{many}。",
        "身为{desc}是我身份的一部分。",
        "我最好的朋友是{desc}。",
        "昨天我们和一位{one}朋友一起吃了晚饭。",
        "一位{one}搬到了我家隔壁。",
        "我和许多{many}同事一起工作。",
        "新来的医生是{desc}。",
        "我们的合唱团这周迎来了一位{one}成员。",
    ),
}
IDENTITY_FORMS = {"en": _forms, "de": _de_forms, "pt": _pt_forms, "zh": _zh_forms}
LANGUAGES: tuple[str, ...] = tuple(LANGUAGE_TEMPLATES)


def template_sentences(language: str = "en") -> list[tuple[str, str]]:
    """(identity, sentence) for every template x identity: neutral statements that should score low."""
    forms_of, pairs = IDENTITY_FORMS[language], []
    for name in IDENTITY_TERMS:
        forms = forms_of(name)
        for template in LANGUAGE_TEMPLATES[language]:
            sentence = template.format(**forms)
            pairs.append((name, sentence[0].upper() + sentence[1:]))
    return pairs


def template_check(predict_proba: PredictProba, threshold: float, language: str = "en") -> dict[str, Any]:
    """Share of neutral identity sentences flagged hostile at ``threshold``, overall and per identity."""
    pairs = template_sentences(language)
    names = np.array([name for name, _ in pairs])
    scores = np.asarray(predict_proba([s for _, s in pairs]), dtype=float)[:, HOSTILITY]
    flagged = scores >= threshold
    rate = float(flagged.mean())
    return {
        "language": language,
        "n": len(pairs),
        "threshold": float(threshold),
        "flagged": int(flagged.sum()),
        "flagged_rate": rate,
        "target": TEMPLATE_TARGET,
        "passed": rate <= TEMPLATE_TARGET,
        "per_identity": {name: float(flagged[names == name].mean()) for name in IDENTITY_TERMS},
        "highest": [
            {"identity": pairs[i][0], "text": pairs[i][1], "score": float(scores[i])}
            for i in np.argsort(-scores, kind="stable")[:10]
        ],
    }


def template_checks_by_language(
    predict_proba: PredictProba, threshold: float, languages: tuple[str, ...] = LANGUAGES
) -> dict[str, dict[str, Any]]:
    """`template_check` for each language: the share flagged must stay at most TEMPLATE_TARGET in every one."""
    return {language: template_check(predict_proba, threshold, language) for language in languages}
