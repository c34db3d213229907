"""Benchmark: what overlapping rollout and training buys on one machine (lesson 03's numbers).

Three layouts of the same tiny run, alternating, in one process:
  in-turn-1   colocated, 1 thread: rollout then train, on one worker (one core)
  split-1+1   colocate=False: a rollout worker and a trainer, 1 thread each, overlapping
              (rollout k+1 while training k; weights pushed every rollout, as train_async.py)
  in-turn-2   colocated, 2 threads: each phase uses both cores, in turn

From in-turn-1's phase times R (rollout) and T (train) per rollout, the ideal overlap speed-up
is (R + T) / max(R, T). Reported: (a) split-1+1 vs in-turn-1 (goal ≥ 1.25× and within 10% of
the ideal) and (b) split-1+1 vs in-turn-2 (reported whichever way it goes).
Step times are medians over rollouts after the first few (warm-up).

    .venv/bin/python scripts/bench_overlap.py [--rollouts 40 --repeats 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

WARMUP = 5


def step_time(history) -> float:
    return statistics.median(history.metric("perf/step_time")[WARMUP:])


def phase_medians(history) -> tuple[float, float]:
    r = statistics.median(history.metric("perf/rollout_time")[WARMUP:])
    t = statistics.median(history.metric("perf/train_time")[WARMUP:])
    return r, t


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rollouts", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    import ray
    import torch

    from gym.local import run_local, tiny_config
    from gym.local.runner import init_ray

    init_ray()
    layouts = {"in-turn-1": dict(colocate=True, threads=1), "split-1plus1": dict(colocate=False, threads=1),
               "in-turn-2": dict(colocate=True, threads=2)}
    steps: dict[str, list[float]] = {k: [] for k in layouts}
    phases: list[tuple[float, float]] = []
    split_phases: list[tuple[float, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            for name, layout in layouts.items():
                config = tiny_config(f"{tmp}/data", name=f"{name}-{rep}", num_rollout=args.rollouts,
                                     colocate=layout["colocate"], save_interval=None, eval_interval=None)
                history = run_local(config, out_dir=f"{tmp}/runs", progress=False, threads=layout["threads"])
                steps[name].append(step_time(history))
                if name == "in-turn-1":
                    phases.append(phase_medians(history))
                if name == "split-1plus1":
                    push = statistics.median(s["end"] - s["start"] for s in history.timeline
                                             if s["phase"] == "update_weights")
                    split_phases.append((*phase_medians(history), push))
                print(f"repeat {rep} {name:<10} step {steps[name][-1]:.3f} s", flush=True)
    ray.shutdown()

    med = {k: statistics.median(v) for k, v in steps.items()}
    r = statistics.median(p[0] for p in phases)
    t = statistics.median(p[1] for p in phases)
    ideal = (r + t) / max(r, t)
    a = med["in-turn-1"] / med["split-1plus1"]
    b = med["in-turn-2"] / med["split-1plus1"]
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"in-turn-1 phases per rollout: R = {r:.3f} s (rollout), T = {t:.3f} s (train)")
    sr, st, su = (statistics.median(p[i] for p in split_phases) for i in range(3))
    print(f"split-1plus1 phases per rollout: R = {sr:.3f} s, T = {st:.3f} s, weight load U = {su:.3f} s "
          f"(overlapped step >= max(R + U, T) = {max(sr + su, st):.3f} s)")
    for k, v in med.items():
        print(f"median step time {k:<10} {v:.3f} s")
    print(f"(a) split 1+1 vs in turn on 1 core: {a:.2f}x  (ideal (R+T)/max(R,T) = {ideal:.2f}x; "
          f"{a / ideal:.0%} of ideal)")
    print(f"(b) split 1+1 vs in turn on 2 cores: {b:.2f}x")


if __name__ == "__main__":
    main()
