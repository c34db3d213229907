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
# **What runs by default.** Planning, validation and building the Modal app: no account, no
# cost. `LAUNCH_ON_MODAL = True` launches the production run.
#
# **What to watch.** How data parallelism (DP), samples per optimizer step and the price move
# together with the node count.

# %%
REPO_URL = "https://github.com/modal-gym/gym"
try:
    import gym  # noqa: F401
except ImportError:  # a fresh Modal Notebook: install gym from the repository (once)
    import subprocess, sys; subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"slime-gym[local,notebooks] @ git+{REPO_URL}"])  # noqa: E401,E702,E501
    import gym  # noqa: F401

# %% tags=["parameters"]
LAUNCH_ON_MODAL = False  # True: launch the 4-node production run on Modal (multi-node access; see its price below)
NODE_COUNTS = [1, 2, 4]  # cluster sizes to compare

# %% [markdown]
# ## Where one node runs out
#
# The quickstart ran Qwen3-4B on one node with every default. That is the right place to
# check a reward function and watch the loss move. But one node limits three things:
#
# - **Speed.** Rollout (SGLang generating answers) and training (Megatron updating the
#   weights) take turns on the same 8 GPUs, and every prompt is answered several times.
# - **Batch diversity.** GRPO compares the answers to the same prompt; a larger global batch
#   mixes more prompts into each optimizer step, which steadies the advantage estimates. One
#   node's memory caps how large that batch can be.
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
# The seed tutorial's production run, verbatim except for the import lines: GSM8K with its test
# split for evaluation, W&B logging, the reference weights for KL, 4 nodes, and its own batch
# sizes and rollout count; the plan below spells out what they imply.

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
    actor_num_nodes=4,
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
display(Markdown(
    f"The app **{app.name}** trains on `{train_info.gpus[0][0]}:{train_info.gpus[0][1]}` per container, in a "
    f"cluster of **{train_info.cluster_info.size} containers** with RDMA={train_info.cluster_info.rdma}. "
    f"Each rollout: {production.rollout_batch_size} × {production.n_samples_per_prompt} = "
    f"{production.samples_per_rollout} samples, {production.steps_per_rollout} optimizer steps of "
    f"{production.global_batch_size} over {production.dp} ranks. The seed's text calls this run non-colocated, "
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

launchable = my_training_run.replace(dataset=GSM8K())
changed = [a for a in launchable.slime_argv() if a not in my_training_run.slime_argv()]
display(Markdown(f"Same slime command; only the run's own checkpoint folder differs (the run name hashes the "
                 f"dataset's class): `{changed}`"))
if LAUNCH_ON_MODAL:
    display(launchable.launch())
else:
    print("LAUNCH_ON_MODAL is False: nothing launched.")
