"""Benchmark: what overlapping rollout and training buys on one machine (lesson 03's numbers).

Three layouts of the same tiny run, alternating, in one process:
  in-turn-1   colocated, 1 thread: rollout then train, on one worker (one core)
  split-1+1   colocate=False: a rollout worker and a trainer, 1 thread each, overlapping
              (rollout k+1 while training k; weights pushed every rollout, as train_async.py)
  in-turn-2   colocated, 2 threads: each phase uses both cores, in turn

From in-turn-1's phase times R (rollout) and T (train) per rollout, the ideal overlap speed-up
is (R + T) / max(R, T). Reported: (a) split-1+1 vs in-turn-1 (goal ≥ 1.25× and within 10% of
the ideal) and (b) split-1+1 vs in-turn-2 (reported whichever way it goes).
Step times are medians over rollouts after the first few (warm-up); the ratios are taken
within each repeat (its three runs follow each other), then their median over repeats.

    .venv/bin/python scripts/bench_overlap.py [--rollouts 30 --repeats 6]
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
    parser.add_argument("--rollouts", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=6)
    args = parser.parse_args()
    import ray
    import torch

    from gym.local import run_local, tiny_config

    # No Ray running beside the in-turn baselines (its services would take CPU from them): each
    # split run starts its own Ray and shuts it down (run_local does when none is running); the
    # start is outside the timed steps (medians of perf/step_time).
    layouts = {"in-turn-1": dict(colocate=True, threads=1), "split-1plus1": dict(colocate=False, threads=1),
               "in-turn-2": dict(colocate=True, threads=2)}
    # One record per repeat: this machine's speed drifts by up to 50% over minutes (other tenants),
    # so ratios are taken within a repeat (three runs seconds apart), then the median over repeats.
    reps: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.repeats):
            order = list(layouts) if rep % 2 == 0 else list(reversed(layouts))  # ABC CBA: no position bias
            rec: dict = {}
            for name in order:
                layout = layouts[name]
                assert not ray.is_initialized(), "Ray must not run beside the in-turn baselines"
                config = tiny_config(f"{tmp}/data", name=f"{name}-{rep}", num_rollout=args.rollouts,
                                     colocate=layout["colocate"], save_interval=None, eval_interval=None)
                history = run_local(config, out_dir=f"{tmp}/runs", progress=False, threads=layout["threads"])
                rec[name] = step_time(history)
                if name == "in-turn-1":
                    rec["R"], rec["T"] = phase_medians(history)
                if name == "split-1plus1":
                    rec["split_R"], rec["split_T"] = phase_medians(history)
                    rec["U"] = statistics.median(s["end"] - s["start"] for s in history.timeline
                                                 if s["phase"] == "update_weights")
            rec["ideal"] = (rec["R"] + rec["T"]) / max(rec["R"], rec["T"])
            # The schedule's own efficiency, from the split run alone (immune to drift between runs):
            # its step against the bound its own phases allow, max(R + U, T).
            rec["schedule"] = max(rec["split_R"] + rec["U"], rec["split_T"]) / rec["split-1plus1"]
            rec["a"] = rec["in-turn-1"] / rec["split-1plus1"]
            rec["b"] = rec["in-turn-2"] / rec["split-1plus1"]
            reps.append(rec)
            print(f"repeat {rep}: steps in-turn-1 {rec['in-turn-1']:.3f} s, split {rec['split-1plus1']:.3f} s, "
                  f"in-turn-2 {rec['in-turn-2']:.3f} s; (a) {rec['a']:.2f}x of ideal {rec['ideal']:.2f}x "
                  f"({rec['a'] / rec['ideal']:.0%}), (b) {rec['b']:.2f}x", flush=True)

    def med(key):
        return statistics.median(r[key] for r in reps)

    def spread(key):
        return f"{min(r[key] for r in reps):.2f}-{max(r[key] for r in reps):.2f}"

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"in-turn-1 phases per rollout (median over repeats): R = {med('R'):.3f} s (rollout), "
          f"T = {med('T'):.3f} s (train)")
    print(f"split-1plus1 phases per rollout: R = {med('split_R'):.3f} s, T = {med('split_T'):.3f} s, "
          f"weight load U = {med('U'):.4f} s")
    for name in layouts:
        print(f"median step time {name:<12} {med(name):.3f} s")
    efficiency = [r["a"] / r["ideal"] for r in reps]
    print(f"(a) split 1+1 vs in turn on 1 core: {med('a'):.2f}x (repeats {spread('a')}); ideal (R+T)/max(R,T) "
          f"{med('ideal'):.2f}x; {statistics.median(efficiency):.0%} of ideal "
          f"(repeats {min(efficiency):.0%}-{max(efficiency):.0%})")
    print(f"(b) split 1+1 vs in turn on 2 cores: {med('b'):.2f}x (repeats {spread('b')})")
    met = med("a") >= 1.25 and statistics.median(efficiency) >= 0.9
    print(f"overlap goal (a) >= 1.25x and within 10% of ideal: {'MET' if met else 'NOT MET'}")
    print(f"split schedule: step vs its own phases' bound max(R + U, T): {med('schedule'):.0%} "
          f"(repeats {spread('schedule')}); phases slower than in turn by R {med('split_R') / med('R') - 1:+.0%}, "
          f"T {med('split_T') / med('T') - 1:+.0%}")


if __name__ == "__main__":
    main()
