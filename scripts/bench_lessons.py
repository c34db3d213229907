"""Benchmark: each lesson executed top to bottom by nbclient on its defaults (goal: ≤ 60 s each).

Runs the committed .ipynb files in a temporary folder with a temporary HOME, offline, the way
the test suite does, and prints the wall time per lesson (kernel start included).

    .venv/bin/python scripts/bench_lessons.py [--save DIR] [01_quickstart ...]

--save DIR keeps each executed notebook (outputs included) as DIR/NN_name.ipynb, to look at what a
learner sees: the pictures are image/png outputs.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    import nbformat
    from nbclient import NotebookClient

    args = sys.argv[1:]
    save = None
    if args[:1] == ["--save"]:
        save, args = Path(args[1]), args[2:]
        save.mkdir(parents=True, exist_ok=True)
    names = args or sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    home = tempfile.mkdtemp(prefix="gym-bench-home-")
    os.environ.update(HOME=home, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", WANDB_MODE="disabled")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    worst = 0.0
    for name in names:
        nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        with tempfile.TemporaryDirectory() as tmp:
            start = time.time()
            NotebookClient(nb, timeout=600, resources={"metadata": {"path": tmp}}).execute()
            seconds = time.time() - start
        if save is not None:
            nbformat.write(nb, save / f"{name}.ipynb")
        worst = max(worst, seconds)
        print(f"{name:<22} {seconds:6.1f} s  {'ok' if seconds <= 60 else 'OVER 60 s'}", flush=True)
    print(f"slowest: {worst:.1f} s (goal ≤ 60 s)")


if __name__ == "__main__":
    main()
