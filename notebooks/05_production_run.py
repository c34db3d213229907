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
# is interrupted half way and resumed (under a minute). `LAUNCH_ON_MODAL = True` launches the
# run's smoke-sized version (3 rollouts, bounded by `MAX_USD`); the full run is one marked line.
#
# **What to watch.** The resumed run's rollout ids: none missing, none repeated.

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
LAUNCH_ON_MODAL = False  # True: launch the 4-node run's smoke-sized version on Modal, detached (3 rollouts, MAX_USD)
LOCAL_ROLLOUTS = 60      # rollouts of the local rehearsal
INTERRUPT_AT = 30        # the rehearsal is stopped after this many rollouts, then resumed

# %% [markdown]
# ## The config, and its layout
#
# The seed's production run, with gym's `GSM8K` (the same data, test split included, and it
# ships with gym so it can travel to the slime image), regular evaluation on the test split,
# and regular checkpoints (the intervals are fields of the config).
#
# Lessons 02 and 03 asked where this run should go: 4 nodes buy time (02); on those 4 nodes,
# colocated or split 3 + 1 with `train_async.py` (03)? Here the question is asked for *this* run:
# the performance model prices both for the same samples (`gym.compare(..., same_work=True)`; the
# split takes the validator's batch-size fix, as in lesson 03), and the run is the cheaper one.
# `gym.course.production_choice()` does exactly this, so that lesson 06 finds the same run.

# %%
from IPython.display import Markdown, display

from gym.course import production_choice

choice = production_choice()
choice.table

# %%
run = choice.run
colo_row, split_row = choice.table.rows
sp, cp = choice.split.resolve().config, choice.colocated.resolve().config
samples = cp.num_rollout * cp.rollout_batch_size * cp.n_samples_per_prompt
if choice.picked_split:
    why = (f"**This run is split, async.** For the same {samples:,} samples the model gives "
           f"{split_row.hours:.0f} h and ${split_row.usd:,.0f} split against {colo_row.hours:.0f} h and "
           f"${colo_row.usd:,.0f} colocated: generation overlaps training, and no phase waits for the engines "
           f"to sleep and wake. What it costs: {choice.split.plan().dp} training ranks instead of "
           f"{choice.colocated.plan().dp}, so steps of "
           f"{sp.global_batch_size} samples ({sp.rollout_batch_size} prompts per rollout, {split_row.rollouts:,} "
           "rollouts for the same work), and the trainer learns from rollouts generated by weights one update "
           f"old (`update_weights_interval={sp.update_weights_interval}`): slightly off-policy, which PPO's "
           "clipped ratio is there to absorb.")
else:
    why = (f"**This run stays colocated**: the model gives ${colo_row.usd:,.0f} colocated against "
           f"${split_row.usd:,.0f} split for the same samples, so the split's overlap does not pay for "
           "the GPUs that only generate.")
display(Markdown(why))
plan = run.plan()
plan

# %% [markdown]
# ## The defaults this run keeps, and why
#
# Every algorithm setting below is left at gym's default, which is slime's own Qwen3-4B recipe
# (`scripts/run-qwen3-4B.sh`: `--eps-clip 0.2 --eps-clip-high 0.28`, `--kl-loss-coef 0.00`,
# `--lr 1e-6 --lr-decay-style constant`):
#
# - **`eps_clip_high` 0.28 above `eps_clip` 0.2: DAPO's "clip-higher"** (Yu et al. 2025,
#   arXiv:2503.14476). PPO's clip keeps the new/old probability ratio within [1 − 0.2, 1 + 0.28].
#   A symmetric 0.2 caps how fast an unlikely token can become likely (0.01 can only grow to
#   0.012 per step), so exploration dies and entropy collapses; a higher upper bound lets rare,
#   good tokens grow while the lower bound still stops likely ones from being crushed.
# - **KL off** (`use_kl_loss=False`, `kl_loss_coef=0`, `kl_coef=0`). A KL penalty holds the policy
#   near the starting model. With a verifiable reward (the boxed answer is right or not) there is
#   no reward model to exploit, and DAPO found the penalty only slows learning; it also saves
#   loading a reference model on the training GPUs (`--ref-load` then only supplies the starting
#   weights, lesson 02).
# - **`lr` 1e-6, constant.** RL fine-tunes a model that already answers well: small steps, and
#   no decay, so a run can be extended (more rollouts) without its schedule changing.
# - **Thinking mode.** `Qwen/Qwen3-4B` writes a `<think>` block before answering, by default,
#   when its chat template is applied (`--apply-chat-template`, as here). Answers are long, which
#   is what makes generation the longest phase.
# - **Truncation at the cap** (`rollout_max_response_len`). A response still thinking at the cap
#   is cut, has no final `\boxed{}` and scores 0: the reward itself teaches the model to finish
#   within the cap. Watch `rollout/truncated_ratio` (lesson 01); if it stays high, raise the cap.

# %%
r = run.resolve().config
display(Markdown(
    f"This run: `eps_clip={r.eps_clip}`, `eps_clip_high={r.eps_clip_high}`, `use_kl_loss={r.use_kl_loss}`, "
    f"`kl_loss_coef={r.kl_loss_coef}`, `kl_coef={r.kl_coef}`, `lr={r.lr:g}` ({r.lr_decay_style}), "
    f"`rollout_max_response_len={r.rollout_max_response_len}`, chat template: "
    f"`{run.resolve().dataset.apply_chat_template}`."))

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
# Modal can preempt GPU containers. The `train` function itself is not retried by Modal (its
# retries, printed below, are 0: a multi-node job restarted by Modal alone would not know where
# it stopped). Instead the launch's **pipeline chains attempts**: a small CPU function inside Modal
# starts a training attempt, watches it, and when an attempt ends early (preempted, crashed)
# after writing a new checkpoint, it repairs the checkpoint folder to its newest complete save and
# starts the next attempt, which resumes from it; an attempt that ends without a new save is not
# retried (it would fail the same way), and the budget stops the chain in any case. Each run has
# **its own checkpoint volume** (`<run>-checkpoints`; other runs never touch it). slime saves
# every `save_interval` rollouts to `--save`, and gym points `--load` at the same folder: a
# resumed attempt finds the latest checkpoint and slime continues from the next rollout id,
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
# ## When to stop: the eval curve
#
# `num_rollout` is a ceiling, not a goal. The seed's 3000 rollouts of 64 prompts are about 26
# passes over GSM8K's 7,473 training problems (computed below): long after most runs stop
# improving on the test split. Decide from `eval/gsm8k`, not from the training reward (which
# rises on problems the model has now seen many times):
#
# - a difference between two evals is only real beyond their noise: on 1,319 test problems at
#   accuracy p, one standard error is √(p(1 − p) / 1319) (computed below; several samples per
#   problem lower it a little, not much: they are correlated);
# - **stop when the last few evals (say 5, that is 100 rollouts at `eval_interval=20`) are all
#   within two standard errors of the best so far**; `launched.cancel()` stops the run and keeps
#   its saves (the newest `keep_checkpoints`: raise it to keep the one nearest the best eval).
#
# Because `num_rollout` is not part of the run's identity, the opposite works too: a run that
# was still improving at its end is trained longer by launching the same config with more
# rollouts; it continues from its latest save.

# %%
import math

GSM8K_TRAIN, GSM8K_TEST = 7473, 1319  # rows of GSM8K's train and test splits
passes = run.num_rollout * run.rollout_batch_size / GSM8K_TRAIN
display(Markdown(
    f"This run: {run.num_rollout:,} rollouts × {run.rollout_batch_size} prompts = "
    f"**{passes:.0f} passes over GSM8K**. One standard error of `eval/gsm8k`: "
    + ", ".join(f"{math.sqrt(p * (1 - p) / GSM8K_TEST):.1%} at {p:.0%}" for p in (0.8, 0.9, 0.95))
    + ", so two evals closer than about "
    f"{2 * math.sqrt(0.9 * 0.1 / GSM8K_TEST):.1%} (two standard errors at 90%) are the same score."))

# %% [markdown]
# ## Cost
#
# The plan's price is exact (list prices, per hour of the whole cluster). How many hours is an
# estimate: gym's performance model (`gym.perf.estimate`) works out each phase of a rollout from
# the model's size, the GPUs' memory bandwidth and FLOPs, and efficiencies fitted to published
# runs. The price follows the *work*, not the cap: it assumes a mean answer length (for GSM8K,
# gym's default workload; the line below says which) and a tail of long answers clipped at
# `rollout_max_response_len`. Once a smoke run has logged real lengths, pass them:
# `estimate(run, **gym.perf.workload_from(history.rows))`. Evaluation and checkpoints are not counted.

# %%
from gym.perf import estimate

perf = estimate(run)
lo, hi = perf.run_usd_range
display(Markdown(
    f"**${plan.usd_per_hour:,.2f} per hour** for {plan.cluster_gpus} {plan.gpu_type}s. About "
    f"**{perf.step_seconds:.0f} s per rollout** ({', '.join(f'{k} {v:.0f} s' for k, v in perf.phases.items())}), "
    f"so {plan.num_rollout:,} rollouts take **~{perf.run_hours:.0f} h**: **~${perf.run_usd:,.0f}** "
    f"(${lo:,.0f}–${hi:,.0f}). Training peaks at {perf.train_memory_gib:.0f} of {perf.gpu_memory_gib:.0f} GiB "
    f"per GPU. Workload: answers of {perf.mean_response_tokens:,.0f} tokens on average ({perf.workload_source}), "
    f"the longest of a rollout ~{perf.longest_response_tokens:,.0f}."))

# %%
from gym.published import beside_markdown

display(Markdown(beside_markdown()))

# %% [markdown]
# ## Launch, detached, bounded, and follow it
#
# `run.launch(max_usd=...)` checks credentials, the `wandb-secret` secret and the estimated cost
# of the whole run against `max_usd` first, and refuses (creating nothing) if something is
# missing or the estimate's upper bound is over the bound. Then a small CPU function inside Modal
# runs the pipeline: download the model into the shared cache volume, prepare GSM8K into the
# run's data volume, train, **detached**: the run goes on when this notebook closes, and stops
# itself (checkpoint kept, resumable) if its spend reaches `max_usd`. It returns a handle:
#
# - `launched.status()`, `launched.logs(tail=50)`, `launched.wait()`, `launched.checkpoints()`,
# - `launched.cancel()` to stop it (the last checkpoint stays in the run's volume; launching the
#   same config again, or with more rollouts, resumes from it),
# - the Modal dashboard link; and from any other kernel, `gym.attach(run_name)` gives the handle back.
#
# A second launch of a run that is still going is refused, naming the first. The switch
# launches the **smoke-sized version** (this config, 3 rollouts); the full run is one marked line:

# %%
SMOKE = run.replace(num_rollout=3)  # what the switch launches: this 4-node run, 3 rollouts
TO_LAUNCH = SMOKE                   # <- THE FULL RUN: change to `TO_LAUNCH = run` (and raise MAX_USD to its range)
MAX_USD = 60                        # refused before anything starts when the estimate's upper bound is higher


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

# %% [markdown]
# ## Exercises
#
# **1.** A local run with `save_interval=10` is stopped after 45 rollouts (ids 0 to 44). At
# which rollout id does `resume=True` start?

# %%
from gym.exercises import check

answer_1 = None  # a rollout id
check("05.1", answer_1);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_1 = 40
# ```
#
# Checkpoints are written after rollouts 9, 19, 29 and 39 (every `save_interval`, counting from
# 1); the restart continues after the last one, and rollouts 40 to 44 run again. A shorter
# interval loses less to a preemption and writes more often.
# </details>
#
# **2.** Your budget is **$1,000**. Give this run (`run`) the most rollouts whose estimated cost
# (`estimate(config).run_usd`) stays within it.

# %%
answer_2 = None  # a SlimeConfig: run.replace(num_rollout=...)
check("05.2", answer_2, budget_usd=1000);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# per_rollout = estimate(run).run_usd / run.num_rollout   # a first guess: cost is about linear
# answer_2 = run.replace(num_rollout=int(1000 / per_rollout))
# while estimate(answer_2).run_usd > 1000:                # start-up is a fixed cost: step down
#     answer_2 = answer_2.replace(num_rollout=answer_2.num_rollout - 1)
# ```
#
# Cost is start-up plus rollouts × seconds per rollout × the cluster's price; the loop absorbs
# the start-up.
# </details>
#
# ## What you learned, and what is next
#
# - A long run needs evaluation on held-out data, W&B without a key in sight, checkpoints that
#   survive preemption (resume loses at most `save_interval` rollouts), and a detached launch
#   with a cost bound that you can follow, attach to and cancel.
# - gym's estimate gives the hours and dollars before anything starts; the control panel holds
#   the same config for one more round of changes.
#
# Next: **[06 · Use the trained model](06_use_the_model.ipynb)**: evaluate before and after
# training, and serve the checkpoint.
