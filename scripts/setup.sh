#!/usr/bin/env bash
# Create .venv and install gym with the given extras (default: none). Idempotent: re-runs
# install nothing unless pyproject.toml or the extras changed.
#   scripts/setup.sh            # plan, argv, Modal app, launch
#   scripts/setup.sh local      # + the local backend (torch, transformers, ray)
#   scripts/setup.sh dev        # + tests and notebook tooling
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      python="$candidate"; break
    fi
  done
fi
[ -n "$python" ] || { echo "gym needs Python >= 3.11" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=".venv/.gym-$(cat pyproject.toml | sha1sum | cut -c1-12)-${extras:-base}"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -U pip
  case ",$extras," in
    # torch first, pinned: an unpinned torch (asked for by transformers) pulls a multi-GB CUDA build.
    *,local,*|*,dev,*|*,bench,*) .venv/bin/python -m pip install -q --disable-pip-version-check "torch==${GYM_TORCH_VERSION:-2.13.0}" ;;
  esac
  if [ -n "$extras" ]; then spec=".[$extras]"; else spec="."; fi
  .venv/bin/python -m pip install -q --disable-pip-version-check -e "$spec"
  touch "$stamp"
fi
