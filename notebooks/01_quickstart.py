# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Quickstart: GRPO on GSM8K with Qwen3-4B, one node
#
# [![Open in Modal Notebook](https://modal-cdn.com/open-in-modal.svg)](https://modal.com/notebooks/new/https://github.com/modal-gym/gym/blob/main/notebooks/01_quickstart.ipynb)
#
# **What you will learn.** How one config object describes a whole GRPO run with slime:
# the model and its preset, the dataset and the two columns slime reads, the reward, and
# the plan that says what the run will use and cost. Then you launch it, and you learn what
# healthy progress looks like.
#
# **What a real run needs.** A [Modal](https://modal.com) account (`modal setup`); one node
# of 8 H100s (no multi-node access needed for this lesson). W&B is optional. The plan below
# prints the price per hour, the launch cell the cost of the smoke run it would start and of
# the full run.
#
# **What runs by default.** Nothing that costs money. With `LAUNCH_ON_MODAL = False` (the
# default) the lesson launches nothing on Modal; instead it rehearses the same kind of run on
# this machine's CPU, with a tiny model, so you can watch GRPO learn in about a minute.
#
# **What to watch.** The reward curve going up, and the numbers in the plan: data-parallel
# size, samples per rollout, optimizer steps per rollout.

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
LAUNCH_ON_MODAL = False  # True: launch this run's smoke-sized version on Modal (3 rollouts, bounded by MAX_USD)
LOCAL_ROLLOUTS = 120     # rollouts of the local rehearsal on a tiny model (about 0.3 s each on 2 CPU cores)

# %% [markdown]
# ## The model and its preset
#
# A model in gym carries two things: its **architecture** (what Megatron needs to build it)
# and a **preset** (where and how it trains by default). For Qwen3-4B the preset is the
# smallest setup that works: one node, training and rollout on the same GPUs, no tensor
# parallelism, because a 4B model fits comfortably on one H100.

# %%
from IPython.display import Markdown, display

from gym.models import Qwen3_4B

model = Qwen3_4B()
preset = model.slime
arch = model.architecture
display(Markdown(
    f"**{model.model_name}**: {arch.num_layers} layers, hidden size {arch.hidden_size}, "
    f"{arch.num_attention_heads} attention heads sharing {arch.num_query_groups} key/value heads, "
    f"about {arch.approx_params() / 1e9:.1f} B parameters.\n\n"
    "| preset field | value |\n|---|---|\n"
    + "\n".join(f"| `{name}` | `{getattr(preset, name)}` |" for name in
                ("gpu_type", "num_nodes", "gpus_per_node", "colocate", "tensor_model_parallel_size",
                 "sequence_parallel", "rollout_num_gpus_per_engine", "sglang_mem_fraction_static"))))

# %% [markdown]
# ## The dataset: which columns, and why
#
# slime reads prompts from a `.jsonl` or `.parquet` file: the column named by `input_key`
# holds the prompt (a string, or a list of chat messages), and `label_key` holds the
# reference answer the reward compares against. GSM8K in the layout slime's examples use
# (`zhuzilin/gsm8k`) has a `messages` column (the question as a user message) and a
# numeric `label`. With `apply_chat_template`, slime renders the messages with the model's
# chat template and asks for the assistant's turn, so the prompt must *not* contain the
# answer.
#
# `gym.datasets.GSM8K` says all of that, and where the files live in the run's own Modal
# volume; the `prepare_dataset` step of the Modal app downloads it there.

# %%
from gym.datasets import GSM8K

gsm8k = GSM8K()
display(Markdown(f"- prompts: `{gsm8k.prompt_data}`, prompt column `{gsm8k.input_key}`, "
                 f"label column `{gsm8k.label_key}`\n- evaluation: `{gsm8k.eval_prompt_data}`"))

# %% [markdown]
# ## The reward
#
# slime's `math` reward takes the **last `\boxed{…}`** in the response and compares it with the
# label (numbers as numbers, so `1,000` equals `1000`). A response that never boxes its
# answer scores 0, however right it is. gym implements the same rule locally, so you can check
# your expectations here:

# %%
from gym.local.rewards import math_reward

for response in ("The total is \\boxed{72}.", "The total is 72.", "\\boxed{70} ... no, \\boxed{72}"):
    print(f"{math_reward(response, '72')}  <-  {response!r}")

# %% [markdown]
# ## The run, and its plan
#
# `SlimeConfig` ties model, data, reward and cluster together. Everything left unset comes from
# the preset, or, for batch sizes, is derived from the layout so that it is valid. `plan()`
# validates the config (every problem at once, with the nearest valid values) and returns the
# numbers the launch implies.

# %%
from gym.slime import SlimeConfig

run = SlimeConfig(model=Qwen3_4B(), dataset=GSM8K())
plan = run.plan()
plan

# %%
display(Markdown(
    f"Read it like this: **{plan.num_nodes} node × {plan.gpus_per_node} {plan.gpu_type}**, all of them "
    f"training and rolling out in turns. Each rollout asks {plan.rollout_batch_size} prompts for "
    f"{plan.n_samples_per_prompt} answers each: **{plan.samples_per_rollout} samples**. The optimizer takes "
    f"steps of {plan.global_batch_size} samples, so a rollout gives **{plan.steps_per_rollout} optimizer steps**, "
    f"each spread over **{plan.dp} data-parallel ranks** ({plan.samples_per_dp_rank:g} samples per GPU). "
    f"The whole run is {plan.num_rollout} rollouts = {plan.total_steps} optimizer steps, at "
    f"**${plan.usd_per_hour:,.2f} per hour**."))

# %% [markdown]
# That is also the exact command slime will run inside the pinned image, flag for flag (every
# flag checked against the image's own parser: slime silently ignores flags it does not know):

# %%
from gym.slime.argv import format_command

print(format_command(run.slime_argv()))

# %% [markdown]
# ## Launch, bounded in cost
#
# `run.launch(max_usd=...)` checks your Modal credentials and secrets first, and the estimated
# cost of the *whole* run against `max_usd`: past it, it refuses and creates nothing. Then the
# whole pipeline (download the model, prepare the data, train) runs **inside Modal, detached**:
# closing this notebook does not stop it, and it stops itself, checkpoint kept, if its elapsed
# cost reaches `max_usd`. It returns a handle: `.status()`, `.logs(tail=50)`, `.wait()`,
# `.cancel()`, `.checkpoints()`, and the dashboard link; `gym.attach(name)` gets it back from any
# kernel.
#
# The switch launches the **smoke-sized version** of this run: the same config, 3 rollouts,
# which proves the account, the image, the data and this config for a few dollars. (Cheaper
# still, `gym.smoke_config()` is gym's own smoke run: Qwen3-0.6B on 2 GPUs, 2 rollouts plus a
# resumed third, to prove an account works end to end.) The full run is one line to change, and
# its estimate is printed next to the smoke run's:

# %%
from gym.perf import estimate

SMOKE = run.replace(num_rollout=3)  # what the switch launches: this run, 3 rollouts
TO_LAUNCH = SMOKE                   # <- THE FULL RUN: change to `TO_LAUNCH = run` (and raise MAX_USD to its range)
MAX_USD = 20                        # refused before anything starts when the estimate's upper bound is higher


def cost_row(label: str, config) -> str:
    e = estimate(config)
    (lo, hi) = e.run_usd_range
    return (f"| {label} | {config.resolve().config.num_rollout:,} | {e.run_hours:.1f} h | ${e.run_usd:,.0f} "
            f"(${lo:,.0f}–${hi:,.0f}) |")


display(Markdown("| | rollouts | time | cost (range) |\n|---|---|---|---|\n"
                 + cost_row("smoke (the switch)", SMOKE) + "\n" + cost_row("full run", run)
                 + f"\n\nBound for this launch: **max_usd = ${MAX_USD}**."))
if LAUNCH_ON_MODAL:
    launched = TO_LAUNCH.launch(max_usd=MAX_USD)
    display(launched)  # status and dashboard link; launched.logs(tail=50), launched.wait(), launched.cancel()
else:
    print("LAUNCH_ON_MODAL is False: nothing launched. Set it to True in the parameters cell to run the smoke run.")

# %% [markdown]
# The hours and dollars above come from gym's performance model (lesson 02 says how it is built).
# Beside them, what published runs measured per step, each with its source, and the model's
# estimate of the same run:

# %%
from gym.published import beside_markdown

display(Markdown(beside_markdown()))

# %% [markdown]
# ## Rehearse it locally: what healthy progress looks like
#
# The same kind of config runs on this machine through gym's local backend: a tiny, randomly
# initialised model of Qwen3-4B's architecture, a tokenizer built from the data, and GRPO with
# slime's semantics. The built-in task is GSM8K-shaped (chat messages + numeric label): small
# sums, learnable from scratch in about a minute.

# %%
from gym.local import run_local, tiny_config

tiny = tiny_config(num_rollout=LOCAL_ROLLOUTS)
history = run_local(tiny)
history.reward_curve()

# %%
first, last = history.window_mean(), history.window_mean(last=True)
rows = history.rows
display(Markdown(
    f"Reward went from **{first:.2f}** (first 10% of rollouts) to **{last:.2f}** (last 10%). "
    f"Entropy of the next token fell from {rows[0]['train/entropy_loss']:.2f} to {rows[-1]['train/entropy_loss']:.2f} "
    f"nats, and the share of prompts whose {tiny.n_samples_per_prompt} samples all scored the same (which "
    f"teach GRPO nothing) went from {rows[0]['rollout/zero_std_groups']:.0%} to "
    f"{rows[-1]['rollout/zero_std_groups']:.0%}."))
history.loss_curves()

# %% [markdown]
# **Healthy progress on this rehearsal.** The local backend logs slime's metric names, so what
# you read here is what you read in W&B, with one exception named below:
#
# - `rollout/raw_reward` rises from near 0: the tiny model starts knowing nothing.
# - `train/entropy_loss` falls slowly. A collapse to near 0 early means the policy stopped
#   exploring.
# - The share of groups whose samples all scored the same is neither near 0 nor near 1: such
#   groups carry no learning signal. *This one is gym's own name*, `rollout/zero_std_groups`
#   (a share); slime logs it differently, as `rollout/zero_std/count_<reward>`, the *number* of
#   such groups per reward value (`count_0`: all wrong, `count_1`: all right).
# - `train/grad_norm` stays bounded (the clip is `clip_grad`), and `train/pg_clipfrac` small.
# - `perf/rollout_time` vs `perf/train_time` tells where the time goes: lesson 03 uses it.
#
# **What the real run shows is different**, because Qwen3-4B is not a blank model:
#
# - **The reward starts high.** Qwen3-4B already solves most GSM8K problems, so
#   `rollout/raw_reward` starts well above 0.5 and has little room to rise; a flat reward near 0
#   would instead mean the reward never fires (check the label column and that answers are boxed).
#   Many groups then score all 1 (`rollout/zero_std/count_1`): easy prompts teach nothing.
# - **`rollout/truncated_ratio`**, the share of responses cut off at the response cap
#   (`--rollout-max-response-len` in the command above). `Qwen/Qwen3-4B` *thinks* by default (a
#   `<think>` block before the answer) under slime's `--apply-chat-template`, and a cut-off
#   response has no final `\boxed{}`, so it scores 0 whatever it reasoned. A ratio that stays
#   sizeable means the cap, not the model, is costing reward; a falling one means GRPO is teaching
#   the model to finish within it. If it stays high, raise the cap (and the token budget with it).
# - **`eval/gsm8k`**, the score on GSM8K's 1,319 test problems (never trained on), every
#   `eval_interval` rollouts and once before training: the number that says whether the run helps.
#   It moves by points, not tens of points; lesson 05 uses it to decide when to stop.

# %% [markdown]
# ## Exercises
#
# Each exercise cell starts as `None`. Write your answer, run the cell: the check under it
# says whether it is right, and why not. Solutions are folded under each one.
#
# **1.** Keep the global batch at 16 samples per optimizer step, but make each rollout give
# **8 optimizer steps** instead of 4. Change only batch sizes of
# `SlimeConfig(model=Qwen3_4B(), dataset=GSM8K())`.

# %%
from gym.exercises import EXERCISE_01_2_RESPONSES, check

answer_1 = None  # a SlimeConfig
check("01.1", answer_1);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_1 = SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), rollout_batch_size=16)
# ```
#
# 16 prompts × 8 samples = 128 samples per rollout, in steps of 16: 8 steps. The global batch
# alone would not do it: left unset, the prompts per rollout follow it (4 steps whatever it is).
# </details>
#
# **2.** Which of these responses does slime's `math` reward score 1 for the label `"1000"`?
# Answer with the set of their indices (0 is the first).

# %%
for i, response in enumerate(EXERCISE_01_2_RESPONSES):
    print(i, repr(response))
answer_2 = None  # a set of indices, e.g. {0, 3}
check("01.2", answer_2);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_2 = {0, 1}
# ```
#
# The last `\boxed{…}` counts (so 3 scores 0: its last box says 100), numbers compare as numbers
# (`1,000` is 1000), an unboxed answer scores 0 however right, and `10^3` is not parsed as a number.
# </details>
#
# ## What you learned, and what is next
#
# - One `SlimeConfig` is the whole run: the model's preset, the dataset's two columns, the
#   reward, and batch sizes derived from the layout; `plan()` validates it and spells out DP,
#   samples per rollout, optimizer steps and price.
# - slime's `math` reward wants the *last* `\boxed{}`; a launch is bounded by `max_usd`, and the
#   switch starts a 3-rollout smoke run, not the full run.
# - Healthy GRPO: reward up, entropy down slowly, groups that disagree; on the real run the
#   reward starts high, and `rollout/truncated_ratio` and `eval/gsm8k` are the numbers to watch.
#
# Next: **[02 · Scaling nodes](02_scaling_nodes.ipynb)** takes this run from one node to four,
# and answers what the extra nodes buy for the same work.
