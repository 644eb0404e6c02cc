"""Print the template families with their labels and row counts, and the label balance.

    python -m training.templates [--seed 0] [--near-twins]

``--near-twins`` also measures how optimistic validation on the source is: the share of its
validation rows (hash split, fraction 0.1) with a training row of the same family at most two
words apart.
"""

from __future__ import annotations

import argparse
import difflib

from moderation.labels import LABELS, MISSING
from training.templates import generate_templates


def near_twin_share(df, max_words: int = 2) -> float:
    """Share of validation rows with a same-family training row differing in at most ``max_words`` words."""
    from training.data import hash_split

    split = hash_split(df["text"], 0.1)
    train = {family: [t.split() for t in rows["text"]] for family, rows in df[split == "train"].groupby("family")}

    def near(text: str, family: str) -> bool:
        words = text.split()
        for other in train.get(family, []):
            same = sum(b.size for b in difflib.SequenceMatcher(a=words, b=other, autojunk=False).get_matching_blocks())
            if max(len(words), len(other)) - same <= max_words:
                return True
        return False

    val = df[split == "validation"]
    return sum(near(t, f) for t, f in zip(val["text"], val["family"])) / len(val)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--near-twins", action="store_true", help="also measure near-identical sentences across the split")
    args = ap.parse_args()
    df = generate_templates(args.seed)
    mark = {1.0: "1", 0.0: "0", MISSING: "–"}
    print("| Family | Rows | " + " | ".join(LABELS) + " |\n|---|---:|" + "---|" * len(LABELS))
    for family, rows in df.groupby("family", sort=False):
        print(f"| {family} | {len(rows)} | " + " | ".join(mark[rows[label].iloc[0]] for label in LABELS) + " |")
    print(f"| **total** | **{len(df)}** |\n\n| Label | 1 | 0 | missing |\n|---|---:|---:|---:|")
    for label in LABELS:
        counts = df[label].value_counts()
        print(f"| {label} | {counts.get(1.0, 0)} | {counts.get(0.0, 0)} | {counts.get(MISSING, 0)} |")
    if args.near_twins:
        print(f"\nvalidation rows with a same-family training row at most 2 words apart: {near_twin_share(df):.3f}")


if __name__ == "__main__":
    main()
