#!/usr/bin/env bash
# The course's main job: set up, then run it (`python -m gym run`; extra arguments pass through).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/python -m gym run "$@"
