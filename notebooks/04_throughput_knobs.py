# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Throughput knobs, and the errors caught before launch
#
# [![Open in Modal Notebook](https://modal-cdn.com/open-in-modal.svg)](https://modal.com/notebooks/new/https://github.com/modal-gym/gym/blob/main/notebooks/04_throughput_knobs.ipynb)
#
# **What you will learn.** The five settings that decide how much work a step does and how it
# fits in memory (dynamic batching and its token budget, activation recompute, samples per
# prompt, rollout engine size, SGLang's memory share), what each one trades, and the mistakes
# with each that gym refuses before a launch. Each mistake is *run* below, so you see the exact
# message.
#
# **What a real run needs.** Nothing new: the same Modal account and node access as before.
#
# **What runs by default.** Plans, memory estimates, validation, and two short local runs
# (under a minute). This lesson launches nothing.
#
# **What to watch.** The messages: each names the field, the rule as a formula, the values, and
# the nearest values that pass.

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
LOCAL_ROLLOUTS = 60      # rollouts of each local run comparing group sizes

# %%
from IPython.display import Markdown, display

from gym.models import Qwen3_4B
from gym.perf import estimate
from gym.plots import memory_chart
from gym.slime import SlimeConfig

base = SlimeConfig(model=Qwen3_4B(), num_nodes=2)


def show(config, only=None):
    """Every problem of a config (errors and warnings), one per line."""
    problems = [p for p in config.problems() if only is None or p.rule == only]
    for p in problems:
        print(f"{p.severity:>7} · {p}")
    return problems


def flags(config, *names):
    """What the slime command says for these flags (True for a bare switch, None when absent)."""
    argv = config.slime_argv()
    out = {}
    for name in names:
        if name not in argv:
            out[name] = None
            continue
        value = argv[argv.index(name) + 1] if argv.index(name) + 1 < len(argv) else "--"
        out[name] = True if value.startswith("--") else value
    return out


# %% [markdown]
# ## 1 · Dynamic batch size and `max_tokens_per_gpu`
#
# With a fixed micro-batch, every micro-batch holds the same number of *samples*, however long
# they are: a batch of long answers runs out of memory while a batch of short ones wastes the
# GPU. With `use_dynamic_batch_size`, slime packs samples into micro-batches up to a **token
# budget per GPU** (`max_tokens_per_gpu`; with context parallelism the budget covers CP GPUs).
# The trade: a higher budget means fewer, fuller micro-batches (faster) and more activation
# memory (OOM risk). A sample longer than the budget still gets a micro-batch of its own, which
# is where OOMs come from, so gym warns when the longest possible sample does not fit:

# %%
print(flags(base, "--use-dynamic-batch-size", "--max-tokens-per-gpu", "--rollout-max-response-len"))

# %% [markdown]
# How the budget packs samples. slime schedules each **optimizer step** as a whole
# (`slime/utils/dp_schedule.py`), pack first, distribute second:
#
# 1. **pack** the step's samples first-fit into bins of at most `max_tokens_per_gpu` × CP tokens:
#    each sample goes into the first bin with room, else opens a new one;
# 2. **align**: split the fullest bins in two until their number is a multiple of DP, so every
#    rank runs the same number of micro-batches;
# 3. **deal** the micro-batches to the DP ranks, the same number each, balancing their work
#    (`--balance-data`, which gym always passes).
#
# Below, one step of the config above (its global batch, over its DP ranks) with random lengths,
# drawn by `gym.plots.packing_chart` from gym's copy of that algorithm (`gym.slime.packing`). A
# smaller budget means more micro-batches per rank: more passes, less memory each.

# %%
import random

from gym.plots import packing_chart

step = base.plan()
rng = random.Random(0)
lengths = [rng.randint(150, 200) + int(rng.random() ** 3 * 4096)  # prompt + answer, in tokens
           for _ in range(step.global_batch_size)]
display(Markdown(f"One step: **{step.global_batch_size} samples** over **DP {step.dp}**, "
                 f"{sum(lengths):,} tokens."))
packing_chart(lengths, (9216, 4608), dp=step.dp)

# %%
from gym.slime.packing import dp_schedule

packed = {budget: len(dp_schedule(lengths, budget, step.dp)[0]) for budget in (9216, 4608)}
long_answers = base.replace(rollout_max_response_len=16384)
token_cap = show(long_answers, only="sample_fits_token_cap")

# %% [markdown]
# slime's own advice is to start with a budget around the longest response divided by CP; the
# suggested value is that, rounded up to a multiple of 1024. Context parallelism shares it:

# %%
show(long_answers.replace(context_parallel_size=2), only="sample_fits_token_cap") or print(
    "with CP=2 the same budget covers the longest sample: no warning")

# %% [markdown]
# ## 2 · Activation recompute
#
# Storing every layer's activations for the backward pass costs memory that grows with batch
# and sequence length. `recompute_granularity="full"` (the preset, with `recompute_method=
# "uniform"`) recomputes them instead: one extra forward pass per step, for a large cut in
# memory, which buys bigger token budgets. `"selective"` recomputes only the
# attention core; `"off"` stores everything (fastest, if it fits). gym's memory estimate says
# whether it fits, per training GPU, at the preset's budget of 9,216 tokens per micro-batch:

# %%
peaks = {}
for granularity in ("full", "selective", "off"):
    e = estimate(base.replace(recompute_granularity=granularity))
    peaks[granularity] = e.train_memory_gib
    print(f"{granularity:>9}: training peak {e.train_memory_gib:5.1f} of {e.gpu_memory_gib:.1f} GiB "
          f"(activations {e.train_memory['activations']:4.1f} GiB);",
          flags(base.replace(recompute_granularity=granularity), "--recompute-granularity", "--recompute-method",
                "--recompute-num-layers"))

# %% [markdown]
# Only full recompute leaves room at this budget: without it, gym warns that training is likely
# out of memory (the fix it suggests: recompute, or a smaller `max_tokens_per_gpu`). Megatron
# also rejects inconsistent combinations at start-up; gym rejects them now, with the memory
# warning beside the error:

# %%
recompute = show(base.replace(recompute_granularity="selective", recompute_num_layers=2))

# %% [markdown]
# ## 3 · Samples per prompt: the GRPO group
#
# GRPO scores each answer against the other answers *to the same prompt*: the advantage is
# (reward − group mean) / group std. More samples per prompt give steadier estimates and more
# groups where at least one answer is right; at a fixed number of prompts they multiply the
# generation work (left unset, gym keeps the samples per rollout and takes fewer prompts, as
# below). With one sample there is no group at all: every advantage is zero, and the run would
# learn nothing.

# %%
group_of_one = show(base.replace(n_samples_per_prompt=1), only="group_needs_two_samples")
for n in (4, 8, 16):
    p = base.replace(n_samples_per_prompt=n).plan()
    print(f"n={n:>2}: {p.rollout_batch_size} prompts × {n} = {p.samples_per_rollout} samples per rollout, "
          f"{p.steps_per_rollout} steps of {p.global_batch_size}")

# %% [markdown]
# Measured on the tiny task: the same number of samples per rollout (and so the same cost),
# split as more prompts with small groups, or fewer prompts with large groups.

# %%
from gym.local import run_local, tiny_config

small_groups = run_local(tiny_config(name="groups-of-8", num_rollout=LOCAL_ROLLOUTS, rollout_batch_size=64,
                                     n_samples_per_prompt=8, eval_interval=None), progress=False)
large_groups = run_local(tiny_config(name="groups-of-16", num_rollout=LOCAL_ROLLOUTS, rollout_batch_size=32,
                                     n_samples_per_prompt=16, eval_interval=None), progress=False)
display(Markdown("| split of 512 samples | reward, last 10% of rollouts | groups that all agree (no signal) |\n|---|---|---|\n"
                 + "\n".join(f"| {h.name} | {h.window_mean(last=True):.2f} | "
                             f"{h.window_mean('rollout/zero_std_groups', last=True):.0%} |"
                             for h in (small_groups, large_groups))))

# %% [markdown]
# ## 4 · Rollout engine size
#
# `rollout_num_gpus_per_engine` is how many GPUs one SGLang engine spans (its tensor
# parallelism). Bigger engines hold bigger models and longer contexts; smaller ones mean more
# engines and more independent batches. slime computes the number of engines with a floor
# division and gives no warning for GPUs left over; an engine must also sit inside a node (or
# span whole nodes), and SGLang splits attention heads across the engine's GPUs:

# %%
leftover = show(base.replace(colocate=False, rollout_num_gpus_per_engine=3))
heads = show(SlimeConfig(model="Qwen3-14B", num_nodes=2, rollout_num_gpus_per_engine=16), only="engine_heads_divisible")

# %% [markdown]
# ## 5 · SGLang's memory share
#
# `sglang_mem_fraction_static` is the share of each rollout GPU that SGLang reserves for weights
# and its KV cache. More KV cache means more concurrent sequences (faster rollouts); but when
# colocated, Megatron needs the rest of the same GPU when training resumes. Split configs
# (where the GPU only generates) can go higher.

# %%
print(f"the preset: sglang_mem_fraction_static={base.resolve().config.sglang_mem_fraction_static}")
memory_chart(base)

# %% [markdown]
# The picture above is gym's memory estimate for one GPU of this config (`gym.plots.memory_chart`):
# training's parts (weights, gradients, optimizer, activations, logits, overhead) and
# rollout's (weights, KV cache, CUDA graphs), against the GPU's capacity. Colocated, the two
# take turns on the same GPU, each releasing its share while the other runs. The KV cache is
# what the memory share buys; a bigger share means more tokens in flight:

# %%
kv = {fraction: estimate(base.replace(sglang_mem_fraction_static=fraction)).kv_cache_tokens
      for fraction in (0.5, 0.7, 0.85)}
print("KV-cache tokens per engine: " + ", ".join(f"{f}: {t:,}" for f, t in kv.items()))

# %%
memory = show(base.replace(sglang_mem_fraction_static=0.95)) + show(base.replace(sglang_mem_fraction_static=1.2))
show(base.replace(colocate=False, sglang_mem_fraction_static=0.9)) or print(
    "split, 0.9: fine (the rollout GPUs only generate)")

# %% [markdown]
# ## Everything at once
#
# A config with several of these mistakes fails with *one* error that lists them all, so one
# round of fixes is enough; nothing was created, nothing was paid for:

# %%
from gym.errors import ConfigError

try:
    base.replace(n_samples_per_prompt=1, tensor_model_parallel_size=3, rollout_num_gpus_per_engine=3,
                 recompute_granularity="selective", recompute_num_layers=2).validate()
except ConfigError as err:
    everything = err
    print(err)

# %% [markdown]
# ## Exercises
#
# **1.** Responses of up to 16,384 tokens with context parallelism 2 (`exercise_04_1_base()`):
# what is the **smallest** `max_tokens_per_gpu`, a multiple of 1024, that gym does not warn
# about? (Smaller budgets need less activation memory.)

# %%
from gym.exercises import check, exercise_04_1_base

answer_1 = None  # a whole number
check("04.1", answer_1);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_1 = 16384 // 2
# ```
#
# With CP = 2 each GPU holds half of a sample's tokens: 8,192 covers the longest one.
# </details>
#
# **2.** The 2-node split (8 GPUs train, 8 roll out, `exercise_04_2_base()`): what is the
# **largest** valid `rollout_num_gpus_per_engine`?

# %%
answer_2 = None  # a whole number
check("04.2", answer_2);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_2 = 8
# ```
#
# One engine over the whole rollout node: it divides the 8 rollout GPUs, sits inside a node and
# divides Qwen3-4B's 32 attention heads. (16 would span two nodes, but only one node rolls out.)
# </details>
#
# ## What you learned, and what is next
#
# - Dynamic batching packs micro-batches up to a per-GPU token budget; recompute trades compute
#   for activation memory; larger GRPO groups leave fewer groups without signal.
# - Engine size and SGLang's memory share decide how many sequences decode at once; gym's memory
#   estimate shows where each GPU's memory goes, and every mistake above fails before launch,
#   all in one error.
#
# Next: **[05 · Production run](05_production_run.ipynb)**: the 4-node run end to end.
