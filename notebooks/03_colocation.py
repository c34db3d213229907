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
# **What you will learn.** The two layouts slime offers: *colocated* (every GPU trains and rolls
# out, in turns: `train.py`) and *split* (some GPUs only roll out, and generation of the next
# rollout overlaps training on the current one: `train_async.py`). You will see both as GPU
# maps, see what the validator says about batch sizes when 3 of 4 nodes train, and measure on
# this machine what overlapping buys and what splitting the hardware costs.
#
# **What a real run needs.** Multi-node access on Modal for the 4-node layouts (8 H100s per
# node); the prices are in the plans.
#
# **What runs by default.** Plans and three short local runs of the tiny model (under a
# minute in all). `LAUNCH_ON_MODAL = True` launches the split 4-node run.
#
# **What to watch.** The timeline pictures: in the split run, the rollout worker's bars sit
# under the trainer's.

# %%
REPO_URL = "https://github.com/modal-gym/gym"
try:
    import gym  # noqa: F401
except ImportError:  # a fresh Modal Notebook: install gym from the repository (once)
    import subprocess, sys; subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"slime-gym[local,notebooks] @ git+{REPO_URL}"])  # noqa: E401,E702,E501
    import gym  # noqa: F401

# %% tags=["parameters"]
LAUNCH_ON_MODAL = False  # True: launch the split 4-node run on Modal (multi-node access; price in its plan)
LOCAL_ROLLOUTS = 14      # rollouts per local layout; the first WARMUP are not timed
WARMUP = 3

# %% [markdown]
# ## Two layouts of the same 4 nodes
#
# Colocated, each GPU holds both a Megatron training rank and an SGLang engine, and they take
# turns: generate, then train, then push the new weights to the engines (in place), then
# generate again. Split, the last node only generates, the first three only train.

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
c, s = colocated.plan(), split.plan()
display(Markdown(
    f"| | colocated | split |\n|---|---|---|\n"
    f"| slime entry point | `{c.train_script}` | `{s.train_script}` |\n"
    f"| training GPUs (DP) | {c.train_gpus} ({c.dp}) | {s.train_gpus} ({s.dp}) |\n"
    f"| rollout GPUs (engines) | {c.rollout_gpus}, shared ({c.rollout_engines}) | {s.rollout_gpus}, own ({s.rollout_engines}) |\n"
    f"| samples per step (derived) | {c.global_batch_size} | {s.global_batch_size} |\n"
    f"| price per hour | ${c.usd_per_hour:,.2f} | ${s.usd_per_hour:,.2f} |"))

# %% [markdown]
# Same price: you pay for the nodes, whatever they do. `train_async.py` refuses colocated
# configs (it asserts `not args.colocate`), and gym picks the entry point from the layout.
#
# ## Batch sizes when fewer GPUs train
#
# Take the production run of lesson 02 and split it: fewer GPUs train, so there are fewer
# data-parallel ranks, and its global batch no longer divides over them. slime would find out
# minutes into the run (at Megatron's first step); gym says it before anything starts, with the
# nearest values that do:

# %%
from gym.errors import ConfigError

production_split = SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False, global_batch_size=128,
                               rollout_batch_size=64, n_samples_per_prompt=8, num_rollout=3000)
try:
    production_split.validate()
except ConfigError as err:
    error = err
    print(err)

# %% [markdown]
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
# training, in turn. Split: a rollout worker and a trainer (two Ray actors, one CPU core each)
# overlap, rollout *k + 1* while training *k*, weights pushed after each rollout: slime's
# `train_async.py`, step for step. Three runs of the tiny task:
#
# 1. **in turn, 1 core**: the two phases alternate on one worker;
# 2. **split, 1 + 1 cores**: the same phases, overlapped on two workers;
# 3. **in turn, 2 cores**: the two phases alternate, each using both cores.

# %%
import statistics

from gym.local import run_local, tiny_config


def measure(name: str, colocate: bool, threads: int):
    config = tiny_config(name=name, num_rollout=LOCAL_ROLLOUTS, colocate=colocate, save_interval=None,
                         eval_interval=None)
    history = run_local(config, threads=threads, progress=False)
    med = lambda key: statistics.median(history.metric(key)[WARMUP:])  # noqa: E731
    return history, med("perf/step_time"), med("perf/rollout_time"), med("perf/train_time")


turn1, step_turn1, R, T = measure("in-turn-1core", colocate=True, threads=1)
split11, step_split, _, _ = measure("split-1plus1", colocate=False, threads=1)
turn2, step_turn2, R2, T2 = measure("in-turn-2cores", colocate=True, threads=2)
turn1.timeline_chart(last=6)

# %%
split11.timeline_chart(last=6)

# %%
ideal = (R + T) / max(R, T)
display(Markdown(
    f"In turn on one core, a rollout took **R = {R:.2f} s** to generate and score and **T = {T:.2f} s** to train. "
    f"Overlapping them can at best hide the shorter phase: ideal speed-up (R + T) / max(R, T) = **{ideal:.2f}×**.\n\n"
    f"| layout | seconds per rollout | vs in turn on 1 core |\n|---|---|---|\n"
    f"| in turn, 1 core | {step_turn1:.2f} | 1.00× |\n"
    f"| split, 1 + 1 cores | {step_split:.2f} | {step_turn1 / step_split:.2f}× (ideal {ideal:.2f}×) |\n"
    f"| in turn, 2 cores | {step_turn2:.2f} | {step_turn1 / step_turn2:.2f}× |\n\n"
    f"Split against in turn on the *same two cores*: **{step_turn2 / step_split:.2f}×**. "
    f"Why that way: given two cores instead of one, rollout went {R:.3f} → {R2:.3f} s ({R / R2:.2f}×) "
    f"and training {T:.3f} → {T2:.3f} s ({T / T2:.2f}×); a phase that gains little from more hardware "
    f"gains more from overlap."))

# %% [markdown]
# ## When each wins
#
# Read the two comparisons separately.
#
# - **Overlap** (split 1+1 against in turn on one core) is the pure benefit of running the phases
#   at the same time: it approaches (R + T) / max(R, T), the most when R and T are close, and
#   nothing when one phase dominates.
# - **Splitting the hardware** (split 1+1 against in turn on two cores) is the honest comparison
#   for a fixed budget: each phase now gets half the machine. If a phase speeds up almost
#   linearly with more hardware, taking turns on all of it is about as fast as overlapping on
#   halves, and the weight push and the pipeline's one-rollout lag are then pure cost.
#
# On a real cluster the same trade holds, with three differences that favour splitting at scale:
# generation's *long tail* (the slowest answer sets the rollout time, and more GPUs barely
# shorten it), the colocated layout's offload and reload of weights and KV cache between
# phases, and memory (the engines no longer share GPUs with Megatron). Against it: the rollout
# pool must be sized to match training (too few rollout GPUs and training waits), and the
# trainer learns from rollouts generated by weights one update old (`update_weights_interval`
# sets how old). Colocated is the simple, memory-frugal default; split pays off when rollout and
# training are both long and comparable.

# %%
if LAUNCH_ON_MODAL:
    display(fixed.launch())
else:
    print("LAUNCH_ON_MODAL is False: nothing launched.")
