# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 06 · Use the trained model: evaluate before and after, then serve it
#
# [![Open in Modal Notebook](https://modal-cdn.com/open-in-modal.svg)](https://modal.com/notebooks/new/https://github.com/modal-gym/gym/blob/main/notebooks/06_use_the_model.ipynb)
#
# **What you will learn.** What to do with a model once GRPO has trained it: measure it against
# the model it started from on prompts it never trained on, read its answers side by side, and
# put it behind an endpoint you can call. Locally, with the tiny model; on Modal, with the
# checkpoint of the run from lesson 05.
#
# **What a real run needs.** The Modal part needs a finished (or stopped) run with at least one
# checkpoint (lesson 05, or its smoke run), and one GPU for the evaluation and the serving
# session: the bound is printed before anything starts.
#
# **What runs by default.** A local training run of the tiny model (under a minute), then its
# evaluation before and after on held-out sums. `LAUNCH_ON_MODAL = True` scores the real run's
# checkpoint on GSM8K's test split and serves it for one session, bounded by `MAX_USD`.
#
# **What to watch.** The two columns of answers: which sums the trained model gets right, and
# whether that includes the ones it never practised.

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
LAUNCH_ON_MODAL = False  # True: evaluate and serve lesson 05's run on Modal (one GPU, bounded by MAX_USD)
LOCAL_ROLLOUTS = 100     # rollouts of the local training run (about 0.3 s each on 2 CPU cores)

# %% [markdown]
# ## Hold some prompts out
#
# An evaluation means something only on prompts the model did not train on. The tiny task is
# every sum a + b with a and b from 0 to 4: 25 questions. We train on 20 of them and keep 5 out
# (for each held-out sum, its mirror stays in: 1 + 3 is held out, 3 + 1 is not). This is what a
# test split is for: GSM8K's 1,319 test problems are never in its 7,473 training ones.

# %%
import json
import random
from pathlib import Path

from IPython.display import Markdown, display

from gym.datasets import LocalDataset
from gym.local import run_local, tiny_config

HELD_OUT = [(1, 3), (4, 2), (0, 4), (2, 3), (2, 1)]
ALL_SUMS = [(a, b) for a in range(5) for b in range(5)]
PRACTISED = [pair for pair in ALL_SUMS if pair not in HELD_OUT]


def write(path: str, pairs, repeats: int) -> str:
    rows = [{"messages": [{"role": "user", "content": f"What is {a} + {b}?"}], "label": str(a + b)}
            for a, b in pairs] * repeats
    random.Random(0).shuffle(rows)
    Path(path).write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


train_file = write("sums_train.jsonl", PRACTISED, repeats=10)
held_out_file = write("sums_held_out.jsonl", HELD_OUT, repeats=1)
practised_file = write("sums_practised.jsonl", PRACTISED, repeats=1)
print(f"training on {len(PRACTISED)} sums, holding out {len(HELD_OUT)}: "
      + ", ".join(f"{a} + {b}" for a, b in HELD_OUT))

# %% [markdown]
# ## Train
#
# The tiny run of lesson 01, on the 20 practised sums, with a checkpoint at the end.

# %%
config = tiny_config(name="use-the-model", num_rollout=LOCAL_ROLLOUTS, save_interval=LOCAL_ROLLOUTS,
                     eval_interval=None,
                     dataset=LocalDataset(train_file, input_key="messages", label_key="label", name="sums"))
history = run_local(config, progress=False)
history.reward_curve()

# %% [markdown]
# ## Before and after, side by side
#
# `evaluate_local(config, prompts, trained=...)` loads the run's weights (the checkpoint, or with
# `trained=False` the exact initialisation the run started from), answers every prompt
# **greedily** (always the most likely token: the model's best answer, unlike the sampled answers
# GRPO learns from), and scores each with the task's reward.

# %%
from gym.course import generalisation_sentence
from gym.local.evaluate import evaluate_local, side_by_side

before = evaluate_local(config, held_out_file, trained=False)
after = evaluate_local(config, held_out_file)
side_by_side(before, after)

# %%
practised_before = evaluate_local(config, practised_file, trained=False)
practised_after = evaluate_local(config, practised_file)
side_by_side(practised_before, practised_after, limit=8)

# %%
display(Markdown(
    f"| accuracy | before training | after {LOCAL_ROLLOUTS} rollouts |\n|---|---|---|\n"
    f"| {len(PRACTISED)} practised sums | {practised_before.accuracy:.0%} | **{practised_after.accuracy:.0%}** |\n"
    f"| {len(HELD_OUT)} held-out sums | {before.accuracy:.0%} | **{after.accuracy:.0%}** |\n\n"
    + generalisation_sentence(practised_before, practised_after, before, after)
    + " On GSM8K the same comparison (the test split, never trained on, 1,319 problems) is what tells you the "
    "run taught reasoning rather than the training problems."))

# %% [markdown]
# ## On Modal: the real run's checkpoint, scored and served
#
# **What accuracy to expect.** Qwen's technical report (Qwen3, arXiv:2505.09388) gives 87.8% on
# GSM8K (4-shot, chain of thought) for **Qwen3-4B-Base**, the pre-trained model. That is not the
# model this run starts from: `Qwen/Qwen3-4B` is the post-trained model, which *thinks* (a
# `<think>` block before its answer) by default under slime's `--apply-chat-template`, and is
# scored here zero-shot, greedily, by slime's math rule (the last `\boxed{}`). So 87.8% is not
# the *before* number (another model, prompted and scored another way): expect the *before* to be
# high, and measure it (the `base` evaluation below) rather than quote it. GRPO on GSM8K then moves it by points,
# not tens of points, mostly through the answer format the reward checks and by finishing within
# `rollout_max_response_len` (a response cut off while thinking has no box and scores 0). A big
# jump usually means the *before* lost points to format or to the cap.
#
# `gym.launch.serve.build_serve_app(config, max_usd=...)` builds (offline) a Modal app on the
# run's own volumes, in its pinned slime image, with two functions on one GPU each:
#
# - `evaluate(weights)`: `"latest"` converts the run's latest checkpoint (slime saves Megatron's
#   format) to Hugging Face's with slime's own converter, once; `"base"` is the downloaded model.
#   It starts SGLang on those weights, answers all 1,319 GSM8K test problems greedily and scores
#   them with slime's math rule;
# - `serve`: the same SGLang server behind a Modal web endpoint (OpenAI-compatible), behind Modal
#   proxy auth, one container at most, stopped after 5 idle minutes.
#
# The app runs ephemerally (`with serving.app.run():`): when the block ends, everything stops.
# The cell below evaluates **twice** (`base` and `latest`) and serves once, so its bound is two
# evaluations plus one serving session on one GPU (`build_serve_app(..., evaluations=2)`).

# %%
from gym.course import production_choice
from gym.launch.serve import build_serve_app

# lesson 05's run, whichever layout it picked (the same config, so the same name, volumes and
# checkpoints; its length is not part of its identity, so a smoke run or a longer run is found too)
run = production_choice().run
EVALUATIONS = ("base", "latest")  # what the cell below evaluates: the bound covers both
MAX_USD = 20  # refused before anything starts when the bound below is higher
serving = build_serve_app(run, max_usd=MAX_USD, evaluations=len(EVALUATIONS))
evaluate_info, serve_info = serving.evaluate.info(), serving.serve.info()
display(Markdown(
    f"App **{serving.app.name}**: `evaluate` and `serve` each on `{evaluate_info.gpus[0][0]}:{evaluate_info.gpus[0][1]}`, "
    f"volumes " + ", ".join(f"`{v.name}`" for v in evaluate_info.volumes.values())
    + f"; checkpoints read from `{serving.spec['checkpoint_dir']}`, test prompts from `{serving.spec['eval_path']}`. "
    f"Cost bound: **${serving.bound_usd:,.2f}** for {len(EVALUATIONS)} evaluations and one serving session "
    f"(max_usd = ${MAX_USD})."))

# %%
if LAUNCH_ON_MODAL:
    import os

    from gym.launch.serve import call_endpoint

    with serving.app.run():
        scores = {weights: serving.evaluate.remote(weights) for weights in EVALUATIONS}
        display(Markdown(" · ".join(f"**{w}**: {s['accuracy']:.1%} of {s['n']}" for w, s in scores.items())))
        url = serving.serve.get_web_url()
        print(f"endpoint: {url}/v1/chat/completions (OpenAI-compatible; Modal-Key/Modal-Secret headers)")
        # A proxy auth token (Modal dashboard → Settings → Proxy Auth Tokens), from the environment, never printed:
        print(call_endpoint(url, "Natalia sold clips to 48 of her friends in April, and then she sold half as many "
                                 "clips in May. How many clips did Natalia sell altogether in April and May?",
                            key=os.environ["MODAL_PROXY_KEY"], secret=os.environ["MODAL_PROXY_SECRET"]))
else:
    print("LAUNCH_ON_MODAL is False: nothing launched.")

# %% [markdown]
# From anywhere else (while the app runs, or after `modal deploy`, which keeps it up until
# `modal app stop`, outside gym's bound):
#
# ```bash
# curl -X POST "$URL/v1/chat/completions" -H "Content-Type: application/json" \
#      -H "Modal-Key: $MODAL_PROXY_KEY" -H "Modal-Secret: $MODAL_PROXY_SECRET" \
#      -d '{"messages": [{"role": "user", "content": "What is 17 * 23? Put the answer in \\boxed{}."}]}'
# ```

# %% [markdown]
# ## Exercises
#
# **1.** From the first table: which held-out sums does the trained model still get wrong?
# Answer with the set of their prompts, e.g. `{"What is 1 + 3?"}`.

# %%
from gym.exercises import check

answer_1 = None  # a set of prompt strings
check("06.1", answer_1, after=after);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# answer_1 = {a.prompt for a in after.answers if not a.correct}
# ```
#
# Read off the ✗ in the "after" column, or ask the `Evaluation` for them as above.
# </details>
#
# **2.** `evaluate_local` takes a `score(response, label)` function. Write one that grades like
# slime's `math` reward (the last `\boxed{…}` against the label), the rule GSM8K runs use.

# %%
answer_2 = None  # a function (response, label) -> bool
check("06.2", answer_2);

# %% [markdown]
# <details><summary>Solution</summary>
#
# ```python
# from gym.local.rewards import math_reward
#
# def answer_2(response, label):
#     return math_reward(response, label) == 1
# ```
#
# Then `evaluate_local(config, prompts, score=answer_2)` grades as a GSM8K run would (the tiny
# model never boxes its answers, so it would score 0 everywhere).
# </details>
#
# ## What you learned, and what is next
#
# - A trained model is judged against the model it started from, on prompts it never trained
#   on, with greedy answers, read side by side: the tiny model learned its practised sums and
#   shows how far that carries to held-out ones.
# - On Modal, the run's latest checkpoint is converted once, scored on GSM8K's test split next to
#   the base model (expect a high *before*: Qwen3-4B is already good at GSM8K), and served behind
#   an authenticated endpoint for a bounded session.
#
# Back to **[the lessons](README.md)**: change a config in the control panel of
# [05](05_production_run.ipynb), rehearse it locally, and launch its smoke run.
