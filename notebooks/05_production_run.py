# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · The production run: four nodes, end to end
#
# [![Open in Modal Notebook](https://modal-cdn.com/open-in-modal.svg)](https://modal.com/notebooks/new/https://github.com/modal-gym/gym/blob/main/notebooks/05_production_run.ipynb)
#
# **What you will learn.** Everything a long run needs besides the training loop: evaluation on
# GSM8K's test split, W&B logging without a key in sight, checkpoints and what happens when Modal
# preempts a node, a detached launch you can follow and stop, what it costs, and the control
# panel to tweak the config and relaunch.
#
# **What a real run needs.** A Modal account with multi-node access (4 nodes of 8 H100s), the
# Modal secret `wandb-secret` holding `WANDB_API_KEY`, and the budget in the estimate below:
# the run is thousands of rollouts long.
#
# **What runs by default.** The plan, the Modal app (built offline), and a local rehearsal that
# is interrupted half way and resumed (under a minute). `LAUNCH_ON_MODAL = True` launches for real.
#
# **What to watch.** The resumed run's rollout ids: none missing, none repeated.

# %%
REPO_URL = "https://github.com/modal-gym/gym"
try:
    import gym  # noqa: F401
except ImportError:  # a fresh Modal Notebook: install gym from the repository (once)
    import subprocess, sys; subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", f"slime-gym[local,notebooks] @ git+{REPO_URL}"])  # noqa: E401,E702,E501
    import gym  # noqa: F401

# %% tags=["parameters"]
LAUNCH_ON_MODAL = False  # True: launch the 4-node run on Modal, detached (multi-node access, wandb-secret; costly)
LOCAL_ROLLOUTS = 60      # rollouts of the local rehearsal
INTERRUPT_AT = 30        # the rehearsal is stopped after this many rollouts, then resumed

# %% [markdown]
# ## The config
#
# The seed's production run, with gym's `GSM8K` (the same data, test split included, and it
# ships with gym so it can travel to the slime image), regular evaluation on the test split,
# and regular checkpoints (the intervals are fields of the config).

# %%
from IPython.display import Markdown, display

from gym.datasets import GSM8K
from gym.models import Qwen3_4B
from gym.slime import SlimeConfig
from gym.wandb import WandbConfig

run = SlimeConfig(
    model=Qwen3_4B(),
    dataset=GSM8K(),
    wandb=WandbConfig(project="slime-grpo", group="qwen3-4b-scaled"),
    num_nodes=4,
    global_batch_size=128,
    rollout_batch_size=64,
    n_samples_per_prompt=8,
    num_rollout=3000,
    eval_interval=20,
    n_samples_per_eval_prompt=4,
    save_interval=20,
)
plan = run.plan()
plan

# %% [markdown]
# ## Evaluation on the test split
#
# slime evaluates every `eval_interval` rollouts on the datasets in `--eval-prompt-data`
# (name/path pairs), with `n_samples_per_eval_prompt` answers per prompt, and logs
# `eval/<name>`:

# %%
argv = run.slime_argv()


def value(flag, count=1):
    i = argv.index(flag)
    return argv[i + 1:i + 1 + count]


display(Markdown(f"`--eval-interval {value('--eval-interval')[0]}` · "
                 f"`--eval-prompt-data {' '.join(value('--eval-prompt-data', 2))}` · "
                 f"`--n-samples-per-eval-prompt {value('--n-samples-per-eval-prompt')[0]}`"))

# %% [markdown]
# ## W&B, and where the key goes
#
# The key never appears in the config, the command line, the plan or the logs: slime logs its
# whole argument namespace to W&B (a `--wandb-key` flag would end up in the run's config, in the
# Ray dashboard and in printed commands). gym passes only the names; the key reaches the
# containers as `WANDB_API_KEY` from the Modal secret, and Ray's workers inherit it.

# %%
display(Markdown(f"W&B flags: `{' '.join(a for a in argv if a.startswith('--wandb') or a == '--use-wandb')}` "
                 f"(project and group values follow them). `--wandb-key` in the command: "
                 f"**{'--wandb-key' in argv}**. Secret the training function mounts: "
                 f"`{run.wandb.secret_name}`."))

# %% [markdown]
# ## Checkpoints, and preemption
#
# Modal can preempt GPU containers. The app's `train` function has retries, and each run has
# **its own checkpoint volume** (`<run>-checkpoints`; other runs never touch it). slime saves
# every `save_interval` rollouts to `--save`, and gym points `--load` at the same folder: a
# restarted cluster finds the latest checkpoint and slime continues from the next rollout id,
# with the optimizer state and the data position restored. Worker nodes commit their
# checkpoint shards to the volume every minute, so a preemption loses at most the rollouts since
# the last save.

# %%
app = run.build_app()
info = app.train.info()
display(Markdown(
    f"`--save {value('--save')[0]}` and `--load {value('--load')[0]}`, every `{value('--save-interval')[0]}` rollouts. "
    f"The `train` function: `{info.gpus[0][0]}:{info.gpus[0][1]}` × {info.cluster_info.size} containers, "
    f"timeout {info.timeout / 3600:.0f} h, {info.max_retries} retries, volumes "
    + ", ".join(f"`{v.name}` at `{path}`" for path, v in info.volumes.items()) + "."))

# %% [markdown]
# The local backend keeps the same promise, and you can watch it here: the rehearsal below is
# stopped after `INTERRUPT_AT` rollouts (as a preemption would), then started again with
# `resume=True`. It picks up at the last checkpoint; the metrics log keeps every rollout exactly
# once.

# %%
import threading

from gym.local import run_local, tiny_config

rehearsal = tiny_config(name="production-rehearsal", num_rollout=LOCAL_ROLLOUTS, save_interval=10, eval_interval=10)
preempt = threading.Event()
first_part = run_local(rehearsal, progress=False, stop=preempt,
                       on_rollout=lambda row: row["rollout_id"] + 1 >= INTERRUPT_AT and preempt.set())
resumed = run_local(rehearsal, resume=True, progress=False)
ids = [row["rollout_id"] for row in resumed.rows]
display(Markdown(
    f"Stopped after rollout {first_part.rows[-1]['rollout_id']}; the restart continued from the checkpoint and "
    f"finished at rollout {ids[-1]}. Rollout ids logged: {len(ids)}, distinct: {len(set(ids))}, missing: "
    f"{sorted(set(range(LOCAL_ROLLOUTS)) - set(ids)) or 'none'}."))
resumed.reward_curve()

# %%
evals = [(row["rollout_id"], v) for row in resumed.rows for k, v in row.items() if k.startswith("eval/")]
display(Markdown("Evaluation on the held-out split, before training (as slime's train.py) and every 10 rollouts: "
                 + ", ".join(f"rollout {k}: {v:.2f}" for k, v in evals)))

# %% [markdown]
# ## Cost
#
# The plan's price is exact (list prices, per hour of the whole cluster). How many hours is not:
# it depends on how long the answers are, how fast the engines decode, how well training uses
# the GPUs. gym's estimate states its assumptions (see `gym.estimate`) and gives a range.

# %%
from gym.estimate import estimate_run

estimate = estimate_run(run.resolve(), plan)
display(Markdown(f"**${plan.usd_per_hour:,.2f} per hour** for {plan.cluster_gpus} {plan.gpu_type}s. "
                 f"{estimate}."))

# %% [markdown]
# ## Launch, detached, and follow it
#
# `run.launch()` checks credentials and the `wandb-secret` secret first, and refuses (creating
# nothing) if something is missing. Then it downloads the model into the shared cache volume,
# prepares GSM8K into the run's data volume, and starts `train` **detached**: the run goes on
# when this notebook closes. It returns where to watch:
#
# - the Modal dashboard link (logs of every container),
# - `modal app logs <app id>` in a terminal to stream the slime job's output,
# - `modal app stop <app id>` to stop it (the last checkpoint stays in the run's volume;
#   launching the same config again resumes from it).
#
# From a terminal instead: put the config in a script with `app = run.build_app()` and run
# `modal run --detach script.py`.

# %%
if LAUNCH_ON_MODAL:
    launched = run.launch()
    display(launched)
else:
    print("LAUNCH_ON_MODAL is False: nothing launched.")

# %% [markdown]
# ## Tweak and relaunch
#
# The control panel holds the same config. Move the node slider, switch to separate rollout GPUs,
# change the batch sizes: the plan, the GPU map, the price and the estimate follow, problems show
# up with one-click fixes, and **Launch** stays disabled until the config is valid. The
# *Python for this config* section is the code to paste into a script. With the *local* backend,
# Launch runs the config's tiny rehearsal here; with *modal*, it launches on Modal.

# %%
from gym.widgets import ControlPanel

panel = ControlPanel(run)
panel
