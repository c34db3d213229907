# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 02 · Scaling nodes: from one node to four
#
# [![Open in Modal Notebook](https://modal-cdn.com/open-in-modal.svg)](https://modal.com/notebooks/new/https://github.com/modal-gym/gym/blob/main/notebooks/02_scaling_nodes.ipynb)
#
# **What you will learn.** Why a one-node GRPO run hits limits, what changes when you give it
# two or four nodes (data parallelism, batch sizes, rollout count, price), how the preset's
# defaults scale, and the production config for a 4-node run. Every number in this lesson is
# computed by the plan, in the lesson.
#
# **What a real run needs.** A Modal account with **multi-node cluster access** (ask Modal to
# enable `modal.clustered` on your workspace) for 2 or 4 nodes of 8 H100s, and, for the
# production config, a W&B key as the Modal secret `wandb-secret`
# (`modal secret create wandb-secret WANDB_API_KEY=...`). The price per hour is in each plan.
#
# **What runs by default.** Planning, estimates, validation and building the Modal app: no
# account, no cost. `LAUNCH_ON_MODAL = True` launches the production run's smoke-sized version
# (3 rollouts, bounded by `MAX_USD`); the full run is one marked line to change.
#
# **What to watch.** How data parallelism (DP), samples per optimizer step and the price move
# together with the node count, and, for the same work, what 4 nodes buy over 1 in hours and
# dollars.

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
LAUNCH_ON_MODAL = False  # True: launch the production run's smoke-sized version on Modal (3 rollouts, bounded by MAX_USD)
NODE_COUNTS = [1, 2, 4]  # cluster sizes to compare

# %% [markdown]
# ## Where one node runs out
#
# The quickstart ran Qwen3-4B on one node with every default. That is the right place to
# check a reward function and watch the loss move. But one node limits three things:
#
# - **Speed.** Rollout (SGLang generating answers) and training (Megatron updating the
#   weights) take turns on the same 8 GPUs, and every prompt is answered several times.
# - **Batch size per unit of time.** GRPO's advantages are computed *within* each prompt's
#   group (an answer against the other answers to the same prompt), so the global batch does
#   not change them. What a larger global batch changes is the gradient: more samples per
#   optimizer step, lower variance. Memory does not cap it (micro-batches accumulate: one node
#   accepts a global batch of 128 as well as four do); time does, because one node generates
#   and trains those samples on a quarter of the GPUs.
# - **Rollout throughput.** Generations per second grow with the GPUs that generate.
#
# How much generating is there? GSM8K's training split, with the preset's samples per prompt:

# %%
from IPython.display import Markdown, display

from gym.models import Qwen3_4B

GSM8K_TRAIN_PROMPTS = 7473  # rows in GSM8K's train split (openai/gsm8k; zhuzilin/gsm8k keeps them)
n = Qwen3_4B().slime.n_samples_per_prompt
display(Markdown(f"One pass over GSM8K: {GSM8K_TRAIN_PROMPTS:,} prompts × {n} samples = "
                 f"**{GSM8K_TRAIN_PROMPTS * n:,} generations**, each scored, then trained on."))

# %% [markdown]
# ## The preset: the smallest setup that works
#
# `Qwen3_4B()` carries a preset for slime. Each value, and why:

# %%
preset = Qwen3_4B().slime
why = {
    "gpu_type": "a 4B model fits one H100 with room for activations and the KV cache",
    "num_nodes": "a model this size needs no more than one node to run",
    "gpus_per_node": "a Modal node is a whole 8-GPU host",
    "colocate": "training and rollout share the GPUs: the most memory-efficient layout",
    "tensor_model_parallel_size": "the model fits on one GPU, so no tensor parallelism",
    "sequence_parallel": "only useful with tensor parallelism",
}
display(Markdown("| field | value | why |\n|---|---|---|\n"
                 + "\n".join(f"| `{k}` | `{getattr(preset, k)}` | {v} |" for k, v in why.items())))

# %% [markdown]
# ## Adding nodes: data parallelism
#
# The simplest way to speed up training is more nodes. With the model on one GPU (TP 1), each
# extra GPU is another **data-parallel rank**: a full copy of the model that trains on its own
# slice of every optimizer step's samples; gradients are then averaged (all-reduced) across
# ranks. In code, only numbers on `SlimeConfig` change:
#
# ```python
# SlimeConfig(model=Qwen3_4B())                  # 1 node, the preset
# SlimeConfig(model=Qwen3_4B(), num_nodes=4)     # 4 nodes: 4× the data parallelism
# ```
#
# With more GPUs you also want a larger global batch (so every rank gets samples) and more
# rollouts (the run can afford them). gym derives both from the layout when you leave them
# unset, following the seed tutorial's suggestions, and marks them *derived* in the plan:

# %%
from gym.slime import SlimeConfig

plans = {nodes: SlimeConfig(model=Qwen3_4B(), num_nodes=nodes).plan() for nodes in NODE_COUNTS}
header = "| nodes | GPUs | DP | samples per step | rollouts | samples per rollout | steps per rollout | samples per GPU per step | $ per hour |"
display(Markdown(header + "\n|" + "---|" * 9 + "\n" + "\n".join(
    f"| {p.num_nodes} | {p.cluster_gpus} | {p.dp} | {p.global_batch_size} | {p.num_rollout} | {p.samples_per_rollout} "
    f"| {p.steps_per_rollout} | {p.samples_per_dp_rank:g} | ${p.usd_per_hour:,.2f} |" for p in plans.values())))

# %%
from gym.plots import scaling_chart

scaling_chart(SlimeConfig(model=Qwen3_4B()), nodes=NODE_COUNTS)

# %%
one, four = plans[min(NODE_COUNTS)], plans[max(NODE_COUNTS)]
display(Markdown(
    f"From {one.num_nodes} to {four.num_nodes} nodes: **{four.dp // one.dp}× the data parallelism** "
    f"({one.dp} → {four.dp} ranks), {four.cluster_gpus // one.cluster_gpus}× the GPUs that generate, and a global "
    f"batch {four.global_batch_size // one.global_batch_size}× larger ({one.global_batch_size} → "
    f"{four.global_batch_size} samples per step). The price per hour grows "
    f"{four.usd_per_hour / one.usd_per_hour:.0f}×, so the larger run pays off only if it finishes correspondingly "
    "sooner or learns better per step."))

# %% [markdown]
# One rule ties these numbers together, and gym checks it before anything launches: the global
# batch must split evenly over the ranks, `global_batch_size % (micro_batch_size × DP) == 0`,
# and the samples of a rollout must fill whole steps (slime silently drops the rest). A value
# you set is checked, never changed; a wrong one names the nearest valid values:

# %%
from gym.errors import ConfigError

try:
    SlimeConfig(model=Qwen3_4B(), num_nodes=4, global_batch_size=100).validate()
except ConfigError as err:
    print(err)

# %%
from gym.perf.calibration import step_ratio_range
from gym.perf.timing import STEP_RANGE_FACTOR

low, median, high = step_ratio_range()  # the one source of the calibration range (BENCHMARKS.md prints it too)
display(Markdown(
    "## What 4 nodes buy: the same work on 1, 2 and 4 nodes\n\n"
    "The table above compares the presets, which do *different* amounts of work (50 rollouts of 64 samples on "
    "one node, 3000 of 512 on four). The fair question is the seed's production work, 3000 rollouts × 512 "
    "samples, done on 1, 2 or 4 nodes. `gym.compare(..., same_work=True)` gives every config the first one's "
    "samples in total and asks gym's performance model (`gym.perf`) for the seconds per rollout, phase by phase. "
    "The model is physics (bytes over memory bandwidth, FLOPs over peak) with efficiency constants fitted to "
    "five published runs (slime, Relax, verl and NeMo-RL, 0.6B–32B), whose step times it predicts at "
    f"{low:.2f}–{high:.2f}× of measured (median {median:.2f}×, `gym.perf.calibration.step_ratio_range()`); "
    f"its range is the point estimate ÷/× {STEP_RANGE_FACTOR}, which contains every one of them."))

# %%
import gym
from gym.plots import step_time_chart

same_work = [SlimeConfig(model=Qwen3_4B(), num_nodes=nodes, global_batch_size=128, rollout_batch_size=64,
                         n_samples_per_prompt=8, num_rollout=3000) for nodes in NODE_COUNTS]
table = gym.compare(same_work, same_work=True)
table

# %%
step_time_chart(same_work)

# %%
rows = {row.nodes: row for row in table.rows}
r1, r4 = rows[min(NODE_COUNTS)], rows[max(NODE_COUNTS)]
display(Markdown(
    f"The same {3000 * 512:,} samples: **{r1.hours:.0f} h on {r1.nodes} node, {r4.hours:.0f} h on {r4.nodes}**, a "
    f"{r4.speedup:.1f}× speed-up for {r4.gpus // r1.gpus}× the GPUs, at ${r1.usd:,.0f} vs ${r4.usd:,.0f}. "
    "Per rollout, generation and training shrink with more GPUs; what does not shrink (the longest answer "
    "decodes nearly alone; weights are pushed, and engines put to sleep and woken, every rollout) is why the "
    f"speed-up stays below the GPU ratio, so the same work costs {r4.usd / r1.usd:.2f}× as much on "
    f"{r4.nodes} nodes. Four nodes buy *time*: {r1.hours - r4.hours:.0f} hours sooner."))

# %% [markdown]
# These hours and dollars are the model's. Beside them, what published runs measured, each with
# its source, and the model's estimate of the same run (`gym.published`):

# %%
from gym.published import beside_markdown

display(Markdown(beside_markdown()))

# %% [markdown]
# ## Colocated or not
#
# By default, training and rollout share the GPUs (`colocate=True`): memory-efficient, but the
# two phases cannot overlap. Giving rollout its own GPUs lets them run at the same time. The seed
# tutorial's split: of a 4-node cluster, one node rolls out and the rest train, the rollout GPUs
# derived from the spare node. `num_nodes` is the cluster you pay for; slime's own `--actor-num-nodes` counts
# only the training nodes, and gym derives it:

# %%
split = SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False)
split_plan = split.plan()
argv = split.slime_argv()
display(Markdown(
    f"`num_nodes=4, colocate=False` → **{split_plan.train_gpus // split_plan.gpus_per_node} nodes train, "
    f"{split_plan.rollout_gpus // split_plan.gpus_per_node} rolls out**; slime runs `{argv[0].rsplit('/', 1)[1]}` with "
    f"`--actor-num-nodes {argv[argv.index('--actor-num-nodes') + 1]}` and "
    f"`--rollout-num-gpus {argv[argv.index('--rollout-num-gpus') + 1]}`; DP drops to {split_plan.dp}. "
    "Lesson 03 is about this trade."))

# %% [markdown]
# ## Throughput knobs the preset already sets
#
# Three settings matter once batches grow (lesson 04 measures each):
#
# - **Dynamic batch size** with a per-GPU token budget (`use_dynamic_batch_size`,
#   `max_tokens_per_gpu`): micro-batches packed by tokens, not by a fixed sample count, which
#   suits answers of very different lengths.
# - **Full recompute** (`recompute_granularity="full"`): recompute activations in the backward
#   pass instead of storing them, trading compute for memory and larger batches.
# - **Samples per prompt** (`n_samples_per_prompt`): larger groups give GRPO better advantage
#   estimates.

# %%
display(Markdown(f"The preset: `use_dynamic_batch_size={preset.use_dynamic_batch_size}`, "
                 f"`max_tokens_per_gpu={preset.max_tokens_per_gpu}`, "
                 f"`recompute_granularity={preset.recompute_granularity!r}`, "
                 f"`n_samples_per_prompt={preset.n_samples_per_prompt}`."))

# %% [markdown]
# ## The production config
#
# The seed tutorial's production run, verbatim except for the import lines and one name: GSM8K
# with its test split for evaluation, W&B logging, 4 nodes, its own batch sizes and rollout count,
# and `ref_load`. The seed writes `actor_num_nodes=4`; here it is `num_nodes=4`, the cluster you
# pay for, because slime's `--actor-num-nodes` counts only the training nodes (above). gym accepts
# the seed's spelling as the same cluster size, so the seed's code runs unchanged too. With KL off (the default, and here), `--ref-load` loads no reference model: it only
# supplies the *starting* weights, because slime sets `load = ref_load` when the run's own
# checkpoint folder holds no checkpoint yet. The plan below spells out what the rest implies.

# %%
from gym.datasets import HuggingFaceDataset
from gym.models import Qwen3_4B
from gym.slime import DATA_PATH, SlimeConfig
from gym.wandb import WandbConfig


class GSM8KDataset(HuggingFaceDataset):
    hf_repo = "zhuzilin/gsm8k"
    input_key = "messages"
    label_key = "label"

    def __init__(self, data_root):
        super().__init__(data_root)
        test_path = self.prompt_data.replace("train.parquet", "test.parquet")
        self.eval_prompt_data = ["gsm8k", test_path]

    def prepare(self):
        from datasets import load_dataset

        super().prepare()
        test_path = self.prompt_data.replace("train.parquet", "test.parquet")
        ds = load_dataset(self.hf_repo, split="test")
        ds.to_parquet(test_path)


base_model = Qwen3_4B()
my_training_run = SlimeConfig(
    model=base_model,
    dataset=GSM8KDataset(DATA_PATH),
    wandb=WandbConfig(project="slime-grpo", group="qwen3-4b-scaled"),
    ref_load=base_model.model_name,
    num_nodes=4,  # the seed writes actor_num_nodes=4: the same cluster size to gym
    global_batch_size=128,
    num_rollout=3000,
    n_samples_per_prompt=8,
    rollout_batch_size=64,
)
app = my_training_run.build_app()
production = my_training_run.plan()
production

# %%
train_info = app.train.info()
passes = production.num_rollout * production.rollout_batch_size / GSM8K_TRAIN_PROMPTS
display(Markdown(
    f"The app **{app.name}** trains on `{train_info.gpus[0][0]}:{train_info.gpus[0][1]}` per container, in a "
    f"cluster of **{train_info.cluster_info.size} containers** with RDMA={train_info.cluster_info.rdma}. "
    f"Each rollout: {production.rollout_batch_size} × {production.n_samples_per_prompt} = "
    f"{production.samples_per_rollout} samples, {production.steps_per_rollout} optimizer steps of "
    f"{production.global_batch_size} over {production.dp} ranks. {production.num_rollout:,} rollouts of "
    f"{production.rollout_batch_size} prompts are {production.num_rollout * production.rollout_batch_size:,} prompts: "
    f"**about {passes:.0f} passes over GSM8K's {GSM8K_TRAIN_PROMPTS:,}**. The seed's text calls this run non-colocated, "
    f"but its code keeps the preset's `colocate={production.colocate}`; lesson 03 shows what the validator says "
    f"when you split it."))

# %% [markdown]
# ## Launch
#
# One thing about the seed's code changes before a launch: `GSM8KDataset` is defined *in this
# notebook* and overrides `prepare()`, and that code cannot travel to the slime image (which runs
# Python 3.12 whatever this kernel runs; gym ships modules, never pickled code). gym refuses such a
# launch before creating anything and says so. `gym.datasets.GSM8K` is the same dataset, test split
# included, and ships with gym; a class of your own goes in a `.py` file next to the notebook.

# %%
from gym.datasets import GSM8K

from gym.perf import estimate

launchable = my_training_run.replace(dataset=GSM8K())
changed = [a for a in launchable.slime_argv() if a not in my_training_run.slime_argv()]
display(Markdown(f"Same slime command; only the run's own checkpoint folder differs (the run name hashes the "
                 f"dataset's class): `{changed}`"))

# %% [markdown]
# The switch launches the **smoke-sized version** of this run (the same 4-node config, 3
# rollouts) under a cost bound; the full run is one marked line, and its estimate is beside the
# smoke run's. `launch(max_usd=...)` refuses, creating nothing, when the estimate's upper bound
# exceeds the bound; a running pipeline stops itself (checkpoint kept) if the spend reaches it.

# %%
SMOKE = launchable.replace(num_rollout=3)  # what the switch launches: the production run, 3 rollouts
TO_LAUNCH = SMOKE                          # <- THE FULL RUN: change to `TO_LAUNCH = launchable` (and raise MAX_USD)
MAX_USD = 60                               # refused before anything starts when the estimate's upper bound is higher


def cost_row(label: str, config) -> str:
    e = estimate(config)
    (lo, hi) = e.run_usd_range
    return (f"| {label} | {config.resolve().config.num_rollout:,} | {e.run_hours:.1f} h | ${e.run_usd:,.0f} "
            f"(${lo:,.0f}–${hi:,.0f}) |")


display(Markdown("| | rollouts | time | cost (range) |\n|---|---|---|---|\n"
                 + cost_row("smoke (the switch)", SMOKE) + "\n" + cost_row("full run", launchable)
                 + f"\n\nBound for this launch: **max_usd = ${MAX_USD}**."))
if LAUNCH_ON_MODAL:
    launched = TO_LAUNCH.launch(max_usd=MAX_USD)
    display(launched)  # status and dashboard link; launched.logs(tail=50), launched.wait(), launched.cancel()
else:
    print("LAUNCH_ON_MODAL is False: nothing launched.")

# %% [markdown]
# ## Exercises
#
# **1.** Give the 2-node preset the production run's work: the same samples in total
# (3000 × 64 × 8), with the 2-node preset's own batch sizes.

# %%
from gym.exercises import check

answer_1 = None  # a SlimeConfig with num_nodes=2
check("02.1", answer_1);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_1 = SlimeConfig(model=Qwen3_4B(), num_nodes=2, num_rollout=3000 * 512 // 256)
# ```
#
# The 2-node preset's rollouts hold 32 × 8 = 256 samples, half the production run's: twice the
# rollouts, 6000.
# </details>
#
# **2.** On 4 colocated nodes with 64 prompts × 8 samples per rollout, what is the smallest
# valid `global_batch_size` above 100?

# %%
answer_2 = None  # a whole number
check("02.2", answer_2);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_2 = 128
# ```
#
# It must be a multiple of micro-batch × DP = 1 × 32 (so 128 is the first above 100) and divide
# the 512 samples of a rollout (128 does).
# </details>
#
# **3.** From the comparison table above: which node count does the production work for the
# fewest dollars?

# %%
answer_3 = None  # 1, 2 or 4
check("02.3", answer_3, table=table);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_3 = min(table.rows, key=lambda row: row.usd).nodes
# ```
#
# Read the `$` column: more nodes finish sooner but pay for the parts of a rollout that do not
# shrink with more GPUs.
# </details>
#
# ## What you learned, and what is next
#
# - More nodes on a model that fits one GPU means more data-parallel ranks; gym derives batch
#   sizes and rollout counts that keep every rank busy and checks the divisibility rules.
# - A bigger global batch lowers gradient variance; it does not change GRPO's per-group
#   advantages, and memory does not cap it. For the same work, 4 nodes buy hours, not dollars.
# - The seed's production run: 3000 rollouts ≈ 26 passes over GSM8K, `ref_load` as starting
#   weights, launched as a bounded smoke run first.
#
# Next: **[03 · Colocation](03_colocation.ipynb)**: the same 4 nodes as one pool of GPUs or two.
