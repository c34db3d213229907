"""Benchmark: validate + plan per config (goal: < 5 ms median), over every preset × layout, and
gym.perf.estimate per config (goal: ≤ 2 ms median, resolution included).

Baseline in the same run, for scale on a noisy shared machine: building the Modal app
for the same configs (the next step of a launch).

    .venv/bin/python scripts/bench_plan.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from gym import SlimeConfig
from gym.models import MODELS


def configs() -> list[SlimeConfig]:
    out = []
    for name in MODELS:
        for nodes in (1, 2, 4):
            for colocate in (True, False):
                config = SlimeConfig(model=name, num_nodes=nodes, colocate=colocate)
                if not any(p.severity == "error" for p in config.problems()):
                    out.append(config)
    return out


def time_each(fn, items, repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        for item in items:
            start = time.perf_counter()
            fn(item)
            samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    items = configs()
    plan_t = time_each(lambda c: c.plan(), items, args.repeat)  # plan() validates first
    from gym.perf import estimate

    est_t = time_each(estimate, items, args.repeat)  # a fresh resolution each call: no cached estimate
    resolve_t = time_each(lambda c: c.resolve(), items, args.repeat)
    app_t = time_each(lambda c: c.build_app(), items, max(1, args.repeat // 10))
    med, p90 = statistics.median(plan_t) * 1e3, statistics.quantiles(plan_t, n=10)[-1] * 1e3
    app_med = statistics.median(app_t) * 1e3
    print(f"machine: {platform.machine()} {platform.python_version()}, {len(items)} valid configs, "
          f"{len(plan_t)} timings")
    print(f"validate + plan: median {med:.2f} ms, p90 {p90:.2f} ms  (goal < 5 ms median)")
    em, ep = statistics.median(est_t) * 1e3, statistics.quantiles(est_t, n=10)[-1] * 1e3
    print(f"gym.perf.estimate: median {em:.2f} ms, p90 {ep:.2f} ms  (goal ≤ 2 ms median; of which resolve "
          f"{statistics.median(resolve_t) * 1e3:.2f} ms)")
    print(f"baseline build_app: median {app_med:.2f} ms  -> plan is {app_med / med:.1f}x faster")


if __name__ == "__main__":
    main()
