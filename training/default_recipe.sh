#!/usr/bin/env bash
# The shipped default model's training recipe, start to finish (see models/default/MODEL_CARD.md).
# Each stage starts from the previous one; stages 3 and 4 each average two fine-tunes into a soup,
# and stage 4 needs the claim-negatives file derived from stage 3. Outputs go to runs/ (git-ignored).
#   bash training/default_recipe.sh [--data-dir D]
set -euo pipefail
moderation train --config configs/default.yaml --output runs/default-stage1 "$@"
moderation train --config configs/default-stage2.yaml --output runs/default-stage2 "$@"
moderation train --config configs/default-stage3a.yaml --output runs/default-stage3a "$@"
moderation train --config configs/default-stage3b.yaml --output runs/default-stage3b "$@"
python -m training.soup runs/default-stage3a runs/default-stage3b --output runs/default-stage3 "$@"
python -m training.claim_negatives --model runs/default-stage3 --output runs/claim-negatives.csv "$@"
moderation train --config configs/default-stage4a.yaml --output runs/default-stage4a "$@"
moderation train --config configs/default-stage4b.yaml --output runs/default-stage4b "$@"
python -m training.soup runs/default-stage4a runs/default-stage4b --output runs/default "$@"
