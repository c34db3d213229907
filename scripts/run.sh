#!/usr/bin/env bash
# The course's main job: set up, then a real GRPO run on the local tiny backend
# (`python -m gym run`; extra arguments pass through, e.g. --rollouts 50).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh local
exec .venv/bin/python -m gym run "$@"
