"""Benchmark: one control-panel change -> validate + plan + redraw (goal: ≤ 100 ms median).

Drives the real widgets headless through a fixed sequence of changes (node slider, colocation,
TP, batch sizes, model), timing each `.value = …` until every view is updated. Baseline in the
same run: redrawing the GPU map as a matplotlib PNG instead of the panel's SVG, per change.

    .venv/bin/python scripts/bench_panel.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time

CHANGES = [("num_nodes", 2), ("num_nodes", 4), ("colocate", False), ("num_nodes", 8), ("tensor_model_parallel_size", 2),
           ("rollout_batch_size", 64), ("global_batch_size", 128), ("n_samples_per_prompt", 16),
           ("colocate", True), ("model", "Qwen3-8B"), ("num_nodes", 1), ("model", "Qwen3-4B"),
           ("tensor_model_parallel_size", 1), ("global_batch_size", 16), ("rollout_batch_size", 8)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from gym import SlimeConfig
    from gym.plots import gpu_map
    from gym.widgets import ControlPanel

    panel = ControlPanel(SlimeConfig())
    change_ms, png_ms = [], []
    for _ in range(args.rounds):
        for name, value in CHANGES:
            start = time.perf_counter()
            panel.controls[name].value = value
            change_ms.append((time.perf_counter() - start) * 1e3)
            start = time.perf_counter()
            gpu_map(panel.plan).savefig(io.BytesIO(), format="png", dpi=80)
            png_ms.append((time.perf_counter() - start) * 1e3)
    med, p90 = statistics.median(change_ms), statistics.quantiles(change_ms, n=10)[-1]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{len(change_ms)} changes: median {med:.1f} ms, p90 {p90:.1f} ms per change (goal ≤ 100 ms median)")
    print(f"baseline, matplotlib PNG map per change: median {statistics.median(png_ms):.1f} ms "
          f"({statistics.median(png_ms) / med:.1f}x the whole SVG-based update)")


if __name__ == "__main__":
    main()
