#!/usr/bin/env bash
# Set up (with test tooling), then run the whole test suite offline. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled
unset MODAL_TOKEN_ID MODAL_TOKEN_SECRET
exec .venv/bin/python -m pytest "$@"
