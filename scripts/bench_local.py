"""Benchmark: the built-in tiny task learns, for 3 seeds, within 90 s on 2 cores.

Criterion (issue 3): mean reward over the last 10% of rollouts ≥ 0.6 and ≥ 3× the first 10%,
for each seed, in ≤ 90 s wall (the whole run_local call: data, tokenizer, model, 150 rollouts).

    .venv/bin/python scripts/bench_local.py [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    import torch

    from gym.local import run_local, tiny_config

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print("seed  first10%  last10%  ratio  wall_s  pass")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            config = tiny_config(f"{tmp}/data", name=f"bench-seed{seed}")
            start = time.time()
            history = run_local(config, seed=seed, out_dir=f"{tmp}/runs", progress=False)
            wall = time.time() - start
            first, last = history.window_mean(), history.window_mean(last=True)
            passed = last >= 0.6 and last >= 3 * first and wall <= 90
            ok &= passed
            print(f"{seed:>4}  {first:8.2f}  {last:7.2f}  {last / max(first, 1e-9):5.1f}  {wall:6.1f}  {passed}")
    print("all seeds pass" if ok else "SOME SEED FAILED")


if __name__ == "__main__":
    main()
