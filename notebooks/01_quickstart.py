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
# prints the price per hour.
#
# **What runs by default.** Nothing that costs money. With `LAUNCH_ON_MODAL = False` (the
# default) the lesson launches nothing on Modal; instead it rehearses the same kind of run on
# this machine's CPU, with a tiny model, so you can watch GRPO learn in about a minute.
#
# **What to watch.** The reward curve going up, and the numbers in the plan: data-parallel
# size, samples per rollout, optimizer steps per rollout.

# %%
REPO_URL = "https://github.com/modal-gym/gym"
try:
    import gym  # noqa: F401
except ImportError:  # a fresh Modal Notebook: install gym from the repository (once)
    import subprocess, sys; subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"slime-gym[local,notebooks] @ git+{REPO_URL}"])  # noqa: E401,E702,E501
    import gym  # noqa: F401

# %% tags=["parameters"]
LAUNCH_ON_MODAL = False  # True: launch the real run on Modal (needs an account; costs money per the plan below)
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
# ## Launch
#
# `run.launch()` checks your Modal credentials and secrets first (and refuses, creating
# nothing, if one is missing), then downloads the model, prepares the data and starts training
# **detached**: closing this notebook does not stop the run.

# %%
if LAUNCH_ON_MODAL:
    launched = run.launch()
    display(launched)
else:
    print("LAUNCH_ON_MODAL is False: nothing launched. Set it to True in the parameters cell to run for real.")

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
# **Healthy progress, on this rehearsal and on the real run** (the same metric names appear in
# W&B):
#
# - `rollout/raw_reward` rises. Flat at 0 means the reward never fires: check the label column
#   and the answer format (is the answer boxed?).
# - `train/entropy_loss` falls slowly. A collapse to near 0 early means the policy stopped
#   exploring.
# - `rollout/zero_std_groups` is neither near 0 nor near 1: groups where every sample scores
#   the same carry no learning signal.
# - `train/grad_norm` stays bounded (the clip is `clip_grad`), and `train/pg_clipfrac` small.
# - `perf/rollout_time` vs `perf/train_time` tells where the time goes: lesson 03 uses it.
#
# Next: **02 · Scaling nodes** takes this run from one node to four.
