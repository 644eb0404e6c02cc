"""TweetEval offensive validation tweets that reached training as OLID rows, and the models' figures without them.

TweetEval offensive is built from OLID's tweets; OLID writes "URL" where TweetEval writes nothing, so
before ``training.data.leak_key`` the leakage check missed those copies, and every stage that trained
on all of OLID saw them. Prints their number, then each model's hostility ROC-AUC and macro-F1 (at its
stored threshold, fp32) on all validation tweets and on the ones no model trained on.

    python benchmarks/tweeteval_leak.py models/moderation-minilm-1.3.0 models/moderation-e5-2.1.0
"""

from __future__ import annotations

import argparse

from sklearn.metrics import f1_score, roc_auc_score

from moderation import Moderator
from training.data import leak_key, load_source, text_key


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data-dir", default=None)
    args = ap.parse_args()
    olid = load_source("olid", args.data_dir)
    tweets = load_source("tweeteval_offensive", args.data_dir)
    val = tweets[tweets["split"] == "validation"].reset_index(drop=True)
    strict, loose = set(olid["text"].map(text_key)), set(olid["text"].map(leak_key))
    leaked = (~val["text"].map(text_key).isin(strict) & val["text"].map(leak_key).isin(loose)).to_numpy()
    print(f"{int(leaked.sum())} of {len(val)} validation tweets are OLID training tweets up to links\n")
    print("| model | ROC-AUC, all | without them | macro-F1, all | without them |\n|---|---|---|---|---|")
    y = (val["hostility"] >= 0.5).to_numpy()
    for path in args.models:
        model = Moderator.load(path, backend="torch")
        p = model.predict_proba(list(val["text"]))[:, model.labels.index("hostility")]
        flag = p >= model.thresholds["hostility"]
        print(f"| {model.name} | {roc_auc_score(y, p):.3f} | {roc_auc_score(y[~leaked], p[~leaked]):.3f} | "
              f"{f1_score(y, flag, average='macro'):.3f} | {f1_score(y[~leaked], flag[~leaked], average='macro'):.3f} |")


if __name__ == "__main__":
    main()
