# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Colocation: one pool of GPUs, or two
#
# [![Open in Modal Notebook](https://modal-cdn.com/open-in-modal.svg)](https://modal.com/notebooks/new/https://github.com/modal-gym/gym/blob/main/notebooks/03_colocation.ipynb)
#
# **What you will learn.** Two separate choices slime offers. *Placement*: colocated (every GPU
# trains and rolls out, in turns) or split (some GPUs only roll out). *Schedule*: synchronous
# (`train.py`: generate, then train) or asynchronous (`train_async.py`: generate the next
# rollout while training on this one, which needs a split placement). That makes three layouts:
# colocated sync, split sync, split async. You will see them as GPU maps, see what the validator
# says about batch sizes when 3 of 4 nodes train, measure on this machine what overlapping buys,
# and put that next to the performance model's estimate for the real 4-node shapes.
#
# **What a real run needs.** Multi-node access on Modal for the 4-node layouts (8 H100s per
# node); the prices are in the plans.
#
# **What runs by default.** Plans, estimates and two short local runs of the tiny model (under
# a minute in all). `LAUNCH_ON_MODAL = True` launches the split 4-node run's smoke-sized version
# (3 rollouts, bounded by `MAX_USD`).
#
# **What to watch.** The timeline pictures: in the split run, the rollout worker's bars sit
# under the trainer's.

# %%
# Install gym into this kernel if it is not there yet (a fresh Modal Notebook or Colab kernel).
REPO_URL = "https://github.com/modal-gym/gym"
import importlib.metadata, pathlib, shutil, subprocess, sys  # noqa: E401,I001


def _installed(dist: str) -> bool:
    try:
        return bool(importlib.metadata.version(dist))
    except importlib.metadata.PackageNotFoundError:
        return False


def _clone() -> pathlib.Path | None:
    """The clone of this repository the notebook sits in (opened from its notebooks/ folder), if any."""
    here = pathlib.Path.cwd().resolve()
    for folder in (here, *here.parents):
        toml = folder / "pyproject.toml"
        if toml.is_file() and 'name = "slime-gym"' in toml.read_text(errors="ignore"):
            return folder
    return None


if _installed("gym"):  # OpenAI Gym is imported as `gym` too: one of the two would shadow the other
    raise RuntimeError("OpenAI Gym (the distribution `gym`) is installed here, and it is imported as `gym` too. "
                       "Use a fresh virtual environment or kernel for this course, or remove it: `pip uninstall -y "
                       "gym`, then reinstall this course (`pip install --force-reinstall --no-deps slime-gym` from "
                       "the repository) and restart the kernel.")
if not _installed("slime-gym"):
    clone = _clone()
    print(f"Installing gym from {clone or REPO_URL}, with torch 2.13.0: a few minutes, once per kernel...", flush=True)
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    if not _installed("torch"):  # first and pinned, as scripts/setup.sh does: left to pip, the `local`
        # extra pulls the newest torch build (several GB of CUDA libraries, even on a machine without a GPU)
        cpu_only = sys.platform == "linux" and shutil.which("nvidia-smi") is None
        subprocess.check_call([*pip, "torch==2.13.0"]
                              + (["--extra-index-url", "https://download.pytorch.org/whl/cpu"] if cpu_only else []))
    subprocess.check_call([*pip, f"{clone}[local,notebooks]" if clone else f"slime-gym[local,notebooks] @ git+{REPO_URL}"])
    importlib.invalidate_caches()
import gym  # noqa: E402,F401

# %% tags=["parameters"]
LAUNCH_ON_MODAL = False  # True: launch the split 4-node run's smoke-sized version on Modal (3 rollouts, bounded by MAX_USD)
LOCAL_ROLLOUTS = 14      # rollouts per local layout; the first WARMUP are not timed
WARMUP = 3

# %% [markdown]
# ## Three layouts of the same 4 nodes
#
# Colocated, each GPU holds both a Megatron training rank and an SGLang engine, and they take
# turns: generate, then train, then push the new weights to the engines (in place), then
# generate again. Split, the last node only generates, the first three only train; the
# schedule is then a second choice (`train_script`): `train.py` still takes turns (the rollout
# GPUs wait while the others train), `train_async.py` overlaps them.

# %%
from IPython.display import Markdown, display

from gym.models import Qwen3_4B
from gym.plots import gpu_map
from gym.slime import SlimeConfig

colocated = SlimeConfig(model=Qwen3_4B(), num_nodes=4)
split = SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False)
gpu_map(colocated.plan())

# %%
gpu_map(split.plan())

# %%
split_sync = split.replace(train_script="train.py")
c, s, y = colocated.plan(), split.plan(), split_sync.plan()
display(Markdown(
    f"| | colocated, sync | split, sync | split, async |\n|---|---|---|---|\n"
    f"| slime entry point | `{c.train_script}` | `{y.train_script}` | `{s.train_script}` |\n"
    f"| training GPUs (DP) | {c.train_gpus} ({c.dp}) | {y.train_gpus} ({y.dp}) | {s.train_gpus} ({s.dp}) |\n"
    f"| rollout GPUs (engines) | {c.rollout_gpus}, shared ({c.rollout_engines}) | {y.rollout_gpus}, own "
    f"({y.rollout_engines}) | {s.rollout_gpus}, own ({s.rollout_engines}) |\n"
    f"| samples per step (derived) | {c.global_batch_size} | {y.global_batch_size} | {s.global_batch_size} |\n"
    f"| price per hour | ${c.usd_per_hour:,.2f} | ${y.usd_per_hour:,.2f} | ${s.usd_per_hour:,.2f} |"))

# %% [markdown]
# Same price: you pay for the nodes, whatever they do. gym picks the entry point from the
# placement when `train_script` is unset (colocated: `train.py`; split: `train_async.py`), and
# refuses `train_async.py` with a colocated placement, which slime asserts against
# (`not args.colocate`).
#
# ## Batch sizes when fewer GPUs train
#
# Take the production run of lesson 02 and split it: fewer GPUs train, so there are fewer
# data-parallel ranks, and its global batch no longer divides over them. slime would find out
# minutes into the run, at Megatron's start-up (after the cluster, the image and the model
# load); gym says it before anything starts, with the nearest values that do:

# %%
from gym.errors import ConfigError

production_split = SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False, global_batch_size=128,
                               rollout_batch_size=64, n_samples_per_prompt=8, num_rollout=3000)
try:
    production_split.validate()
except ConfigError as err:
    error = err
    print(err)

# %%
dp = production_split.resolve().layout.dp
samples = production_split.resolve().samples_per_rollout
display(Markdown(f"{dp} training ranks; no multiple of {dp} divides the {samples} samples of a rollout, so the "
                 "suggestions that satisfy both rules change the prompts per rollout too. Take the first:"))

# %%
joint = next(f for p in error.problems for f in p.fixes if len(f.changes) > 1)
fixed = production_split.replace(**joint.changes)
fixed_plan = fixed.plan()
display(Markdown(f"With `{joint}`: {fixed_plan.rollout_batch_size} × {fixed_plan.n_samples_per_prompt} = "
                 f"{fixed_plan.samples_per_rollout} samples per rollout, {fixed_plan.steps_per_rollout} steps of "
                 f"{fixed_plan.global_batch_size} ({fixed_plan.samples_per_dp_rank:g} per rank)."))

# %% [markdown]
# ## What overlap buys, measured
#
# The local backend runs both shapes for real. Colocated: one worker does rollout, then
# training, in turn. Split: a rollout worker and a trainer (two Ray actors, each pinned to its own
# CPU core) overlap, rollout *k + 1* while training *k*, weights pushed after each rollout:
# slime's `train_async.py`, step for step. Every worker runs **one torch thread**, so each phase
# gets one core either way and the only difference is the schedule. Two runs of the tiny task:
#
# 1. **in turn**: the two phases alternate on one worker;
# 2. **split, 1 + 1 cores**: the same phases, overlapped on two workers.
#
# A measurement on a shared or busy machine can be wildly off (one worker waiting for a core
# another job holds), so the figures are checked before they are explained
# (`gym.local.overlap.read_overlap`): if they are impossible for two workers, or the in-turn run
# itself was unsteady, you get a warning instead of an explanation.

# %%
import os
import statistics

from gym.local import run_local, tiny_config
from gym.local.overlap import read_overlap

cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
display(Markdown(
    f"This kernel has **{cores} CPU core{'s' if cores != 1 else ''}**. "
    + ("Enough: the split run gives each worker a core of its own, as each pool of GPUs has its own GPUs."
       if cores >= 2 else
       "With fewer than 2, the split run's two workers share one core: they *take turns* on it instead of "
       "overlapping, so the numbers below say nothing about overlap; the model's estimate further down "
       "still does.")))


def measure(name: str, colocate: bool):
    config = tiny_config(name=name, num_rollout=LOCAL_ROLLOUTS, colocate=colocate, save_interval=None,
                         eval_interval=None)
    history = run_local(config, threads=1, progress=False)  # one torch thread per worker
    return history, history.metric("perf/step_time")[WARMUP:]


turn1, turn_steps = measure("in-turn", colocate=True)
split11, split_steps = measure("split-1plus1", colocate=False)
R, T = (statistics.median(turn1.metric(k)[WARMUP:]) for k in ("perf/rollout_time", "perf/train_time"))
step_turn1, step_split = statistics.median(turn_steps), statistics.median(split_steps)
turn1.timeline_chart(last=6)

# %%
split11.timeline_chart(last=6)

# %%
ideal = (R + T) / max(R, T)
reading = read_overlap(turn_steps, split_steps, R, T, cores=cores)
display(Markdown(
    f"In turn, a rollout took **R = {R:.2f} s** to generate and score and **T = {T:.2f} s** to train. "
    f"Overlapping them can at best hide the shorter phase: ideal speed-up (R + T) / max(R, T) = **{ideal:.2f}×**.\n\n"
    f"| layout | seconds per rollout (median) | vs in turn |\n|---|---|---|\n"
    f"| in turn | {step_turn1:.2f} | 1.00× |\n"
    f"| split, 1 + 1 cores | {step_split:.2f} | {reading.speedup:.2f}× (ideal {ideal:.2f}×) |\n\n"
    + reading.message))

# %% [markdown]
# ## The same question on the real 4-node shapes, from the model
#
# Measured here: a tiny model on CPU cores. The real question is 4 nodes of H100s running
# Qwen3-4B colocated, or 3 + 1 split. gym's performance model estimates each phase of a rollout
# for each layout: with `train.py` the split placement's phases add up; with `train_async.py` they overlap.

# %%
import gym
from gym.perf import estimate
from gym.plots import step_time_chart

real = {"colocated, sync": colocated, "split 3 + 1, sync": fixed.replace(train_script="train.py"),
        "split 3 + 1, async": fixed}
est = {name: estimate(config) for name, config in real.items()}
split_sync_seconds = est["split 3 + 1, sync"].step_seconds
step_time_chart(list(real.values()))

# %%
colo_s, async_s = est["colocated, sync"].step_seconds, est["split 3 + 1, async"].step_seconds
display(Markdown(
    "| 4 nodes, Qwen3-4B | seconds per rollout (model) | vs colocated |\n|---|---|---|\n"
    f"| colocated, sync | {colo_s:.0f} | 1.00× |\n"
    f"| split 3 + 1, sync | {split_sync_seconds:.0f} | {colo_s / split_sync_seconds:.2f}× |\n"
    f"| split 3 + 1, async | {async_s:.0f} | {colo_s / async_s:.2f}× |\n\n"
    "Phases (s): " + "; ".join(f"{name}: " + ", ".join(f"{k} {v:.0f}" for k, v in e.phases.items() if v >= 0.5)
                                for name, e in est.items())
    + (f"\n\nMeasured here, split against in turn: **{reading.speedup:.2f}×**" if reading.plausible else
       "\n\nMeasured here: nothing usable (the machine was busy, see the warning above)")
    + f"; the model, split async against colocated on 4 nodes: **{colo_s / async_s:.2f}×**."))
gym.compare(list(real.values()), same_work=True)

# %%
from gym.published import beside_markdown

display(Markdown(beside_markdown()))

# %% [markdown]
# The split runs' rollouts hold fewer samples than the colocated one's (they took the validator's
# fix: fewer prompts per rollout), so seconds per rollout compare unequal work; the table above
# gives all three the same samples in total and compares hours and dollars.
#
# ## When each wins
#
# Read the two comparisons separately.
#
# - **Overlap** (split 1+1 against in turn, measured above) is the pure benefit of running the
#   phases at the same time: it approaches (R + T) / max(R, T), the most when R and T are close,
#   and nothing when one phase dominates.
# - **Splitting the hardware** is the honest comparison for a fixed budget: colocated, each phase
#   gets *all* the GPUs in turn; split, each gets only its share, all the time. If a phase speeds
#   up almost linearly with more hardware, taking turns on all of it is about as fast as
#   overlapping on halves, and the weight push and the pipeline's one-rollout lag are then pure
#   cost. The tiny CPU model cannot show this (its phases do not scale across cores the way a
#   4B model's do across GPUs); the model's estimate above does, per phase.
#
# On a real cluster the same trade holds, with three differences that favour splitting at scale:
# generation's *long tail* (the slowest answer sets the rollout time, and more GPUs barely
# shorten it), the colocated layout's offload and reload of weights and KV cache between
# phases, and memory (the engines no longer share GPUs with Megatron). Against it: the rollout
# pool must be sized to match training (too few rollout GPUs and training waits), and the
# trainer learns from rollouts generated by weights one update old (`update_weights_interval`
# sets how old). Colocated is the simple, memory-frugal default; split pays off when rollout and
# training are both long and comparable.

# %% [markdown]
# ## Launch, bounded in cost
#
# The switch launches the **smoke-sized version** of the valid split run above (3 rollouts),
# under `MAX_USD`; the full run is one marked line, and its estimate is beside the smoke run's.

# %%
SMOKE = fixed.replace(num_rollout=3)  # what the switch launches: the 3 + 1 split, 3 rollouts
TO_LAUNCH = SMOKE                     # <- THE FULL RUN: change to `TO_LAUNCH = fixed` (and raise MAX_USD)
MAX_USD = 60                          # refused before anything starts when the estimate's upper bound is higher


def cost_row(label: str, config) -> str:
    e = estimate(config)
    (lo, hi) = e.run_usd_range
    return (f"| {label} | {config.resolve().config.num_rollout:,} | {e.run_hours:.1f} h | ${e.run_usd:,.0f} "
            f"(${lo:,.0f}–${hi:,.0f}) |")


display(Markdown("| | rollouts | time | cost (range) |\n|---|---|---|---|\n"
                 + cost_row("smoke (the switch)", SMOKE) + "\n" + cost_row("full run", fixed)
                 + f"\n\nBound for this launch: **max_usd = ${MAX_USD}**."))
if LAUNCH_ON_MODAL:
    launched = TO_LAUNCH.launch(max_usd=MAX_USD)
    display(launched)  # status and dashboard link; launched.logs(tail=50), launched.wait(), launched.cancel()
else:
    print("LAUNCH_ON_MODAL is False: nothing launched.")

# %% [markdown]
# ## Exercises
#
# **1.** Make the 3 + 1 split (`num_nodes=4, colocate=False`) valid with **8 optimizer steps
# per rollout**, 8 samples per prompt.

# %%
from gym.exercises import check

answer_1 = None  # a SlimeConfig
check("03.1", answer_1);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_1 = SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False, n_samples_per_prompt=8,
#                        rollout_batch_size=72, global_batch_size=72)
# ```
#
# 24 training ranks: the global batch must be a multiple of 24, and the rollout 8 of them.
# 72 = 3 × 24, and 72 prompts × 8 samples = 576 = 8 × 72.
# </details>
#
# **2.** Write the *split, sync* layout of 4 nodes: rollout on its own GPUs, but slime's
# synchronous schedule.

# %%
answer_2 = None  # a SlimeConfig
check("03.2", answer_2);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_2 = SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False, train_script="train.py")
# ```
#
# Placement is `colocate`; the schedule is `train_script`.
# </details>
#
# **3.** A rollout takes R = 30 s to generate and T = 10 s to train, in turn. What is the best
# speed-up overlapping them can give?

# %%
answer_3 = None  # a number
check("03.3", answer_3);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_3 = (30 + 10) / max(30, 10)
# ```
#
# 1.33×: overlap hides the shorter phase at best, so the longer one (generation) sets the pace.
# </details>
#
# ## What you learned, and what is next
#
# - Placement (colocated or split) and schedule (`train.py` sync or `train_async.py` async) are
#   two choices; async needs split. Fewer training GPUs change the batch-size rules, and gym
#   finds the failure before Megatron's start-up would.
# - Overlap buys at most (R + T) / max(R, T); splitting the hardware costs each phase half of
#   it. The model puts numbers on both for the real 4-node shapes.
#
# Next: **[04 · Throughput knobs](04_throughput_knobs.ipynb)**: the settings that decide how much
# work a step does and whether it fits in memory.
