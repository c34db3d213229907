"""The local backend: real GRPO on a tiny model, with slime's semantics, checkpoints and errors."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import torch

from gym import ConfigError, LocalDataset
from gym.local import grpo
from gym.local.data import DataError, prompts_for_rollout
from gym.local.history import History
from gym.local.rewards import RewardError, Sample, deepscaler_reward, math_reward
from gym.local.runner import run_local
from gym.local.tiny import build_tokenizer, tiny_config

FAST = dict(rollout_batch_size=8, n_samples_per_prompt=4, global_batch_size=16, num_rollout=4, save_interval=2,
            eval_interval=None)
"""Small batches (to keep tests quick): 8 prompts × 4 samples = 32 samples, 2 optimizer steps per rollout."""


@pytest.fixture
def tiny(tmp_path):
    def make(**overrides):
        return tiny_config(tmp_path / "data", **{**FAST, **overrides})
    return make


@pytest.fixture(scope="module")
def ray_session():
    """One Ray instance for the split-layout tests (starting Ray costs seconds); run_local reuses it."""
    import ray

    from gym.local.runner import init_ray

    init_ray()
    yield
    ray.shutdown()


def run(config, tmp_path, **kwargs):
    return run_local(config, out_dir=tmp_path / "runs", progress=False, **kwargs)


# ---- the run -------------------------------------------------------------------------------------

def test_colocated_run_logs_slime_metrics_per_rollout(tiny, tmp_path):
    history = run(tiny(), tmp_path)
    assert [row["rollout_id"] for row in history.rows] == [0, 1, 2, 3]
    row = history.rows[0]
    for key in ("rollout/raw_reward", "rollout/response_length", "train/loss", "train/pg_loss", "train/entropy_loss",
                "train/grad_norm", "perf/rollout_time", "perf/train_time", "perf/step_time",
                "perf/rollout_tokens_per_sec"):
        assert key in row, key
    assert row["train/steps"] == 2.0  # 32 samples per rollout / 16 per step
    assert all(0.0 <= r["rollout/raw_reward"] <= 1.0 for r in history.rows)
    assert {s["worker"] for s in history.timeline} == {"colocated"}
    assert {"rollout", "train", "save"} <= {s["phase"] for s in history.timeline}
    files = {p.name for p in history.run_dir.iterdir()}
    assert {"metrics.jsonl", "timeline.jsonl", "checkpoint", "tokenizer", "run.json"} <= files
    assert History.load(history.run_dir).rows == history.rows


def test_same_seed_same_run(tiny, tmp_path):
    a = run(tiny(name="a"), tmp_path, seed=3).metric("rollout/raw_reward")
    b = run(tiny(name="b"), tmp_path, seed=3).metric("rollout/raw_reward")
    assert a == b


def test_reward_rises_on_the_tiny_task(tmp_path):
    """The built-in task learns (a shortened run; the full one is in scripts/bench_local.py)."""
    config = tiny_config(tmp_path / "data", num_rollout=60, eval_interval=None)
    history = run(config, tmp_path)
    first, last = history.window_mean(), history.window_mean(last=True)
    assert last > 0.3 and last > 3 * first, (first, last)


def test_split_run_overlaps_rollout_and_training(ray_session, tiny, tmp_path):
    history = run(tiny(colocate=False, num_rollout=4), tmp_path)
    assert [row["rollout_id"] for row in history.rows] == [0, 1, 2, 3]
    spans = history.timeline
    assert {s["worker"] for s in spans} == {"rollout", "train"}
    gen = {s["rollout_id"]: s for s in spans if s["phase"] == "rollout"}
    train = {s["rollout_id"]: s for s in spans if s["phase"] == "train"}
    # rollout k+1 is generated while rollout k trains (slime's train_async.py)
    assert any(gen[k + 1]["start"] < train[k]["end"] for k in range(3))
    push = {s["rollout_id"]: s for s in spans if s["phase"] == "update_weights"}
    assert sorted(push) == [0, 1, 2, 3]  # update_weights_interval=1
    for k in range(2):  # slime's order: train k and rollout k+1, then the push, then rollout k+2
        assert push[k]["start"] >= max(train[k]["end"], gen[k + 1]["end"])
        assert gen[k + 2]["start"] >= push[k]["end"]
        assert train[k + 1]["start"] >= train[k]["end"]


def test_split_run_extends_from_its_checkpoint(ray_session, tiny, tmp_path):
    run(tiny(colocate=False, num_rollout=4, save_interval=2, name="ext"), tmp_path)
    history = run(tiny(colocate=False, num_rollout=6, save_interval=2, name="ext"), tmp_path, resume=True)
    assert [row["rollout_id"] for row in history.rows] == list(range(6))
    saves = [s["rollout_id"] for s in history.timeline if s["phase"] == "save"]
    assert saves == [1, 3, 5]


def test_update_weights_interval(ray_session, tiny, tmp_path):
    history = run(tiny(colocate=False, update_weights_interval=2), tmp_path)
    assert sum(s["phase"] == "update_weights" for s in history.timeline) == 2


def test_wandb_logs_offline_and_never_records_the_key(tiny, tmp_path, monkeypatch):
    from gym import WandbConfig

    secret = "wandb-sentinel-" + "9" * 30
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_API_KEY", secret)
    history = run(tiny(wandb=WandbConfig(project="gym-test", group="g"), num_rollout=2), tmp_path)
    import wandb

    wandb.teardown()  # run_local finished the run; this waits until W&B's writer has flushed every record
    offline = list((history.run_dir / "wandb").glob("offline-run-*"))
    assert len(offline) == 1
    records = b"".join(p.read_bytes() for p in offline[0].rglob("*") if p.is_file())
    assert b"rollout/raw_reward" in records  # the metrics were logged
    assert secret.encode() not in records


def test_wandb_unreachable_falls_back_to_offline_quickly(tiny, tmp_path, monkeypatch, capsys):
    """A W&B key with no network ended a run after 104 s with a CommError traceback. Unreachable here
    is a closed port on this machine (connection refused): nothing leaves it."""
    import time

    import wandb

    from gym import WandbConfig
    from gym.local import runner

    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setattr(runner, "WANDB_INIT_TIMEOUT_S", 2.0)
    began = time.monotonic()
    history = run(tiny(wandb=WandbConfig(project="gym-test", group="g"), num_rollout=1), tmp_path)
    wandb.teardown()
    assert len(history.rows) == 1 and time.monotonic() - began < 90
    assert "W&B could not be reached within 2 s" in capsys.readouterr().err
    assert list((history.run_dir / "wandb").glob("offline-run-*"))


def test_kl_loss_is_logged(tiny, tmp_path):
    history = run(tiny(use_kl_loss=True, kl_loss_coef=0.01, num_rollout=2, global_batch_size=32), tmp_path)
    assert all("train/kl_loss" in row for row in history.rows)
    assert history.rows[0]["train/kl_loss"] == pytest.approx(0.0, abs=1e-6)  # one step: policy = reference
    assert history.rows[1]["train/kl_loss"] > 0


KILL_SCRIPT = """
import sys, time
from gym.local import run_local
from gym.local.tiny import tiny_config

def on_rollout(row):
    if row["rollout_id"] == {kill_at} and sys.argv[1] == "fresh":  # its row is written; no checkpoint yet
        print("ROLLOUT-LOGGED", flush=True)
        time.sleep(3600)  # the test kills us here

config = tiny_config({data!r}, **{config!r})
run_local(config, out_dir={runs!r}, progress=False, threads=1, on_rollout=on_rollout, resume=sys.argv[1] == "resume")
"""


@pytest.mark.parametrize("colocate", [True, False], ids=["colocated", "split"])
def test_resume_after_sigkill_loses_and_repeats_no_rollout(request, tmp_path, colocate):
    """Kill a run (SIGKILL) after rollout 4 is logged (the last checkpoint is after rollout 2),
    restart it with resume=True: every rollout id exactly once (3 and 4 run again), and the rows
    equal those of the reference run. Colocated, the reference is an uninterrupted run. Split, it
    is a run stopped cleanly at the same point and resumed: a resumed split run generates its first
    rollout with the checkpoint's weights, one step fresher than the uninterrupted run's (as slime's
    train_async.py on resume). The kill lands on an observed event (the child says its row is
    written, then waits), so a slow machine only makes the test slower."""
    n, kill_at = 8, 4
    settings = dict(rollout_batch_size=8, n_samples_per_prompt=4, global_batch_size=16, num_rollout=n,
                    save_interval=3, eval_interval=None, colocate=colocate, name="killed")
    script = tmp_path / "job.py"
    script.write_text(KILL_SCRIPT.format(kill_at=kill_at, data=str(tmp_path / "data"), config=settings,
                                         runs=str(tmp_path / "runs")))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, str(script), "fresh"], env=env, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        line = proc.stdout.readline()  # blocks until the event (or the child's exit: then "")
        assert line == "ROLLOUT-LOGGED\n", f"the child ended before rollout {kill_at}: {proc.wait()}"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the child and anything it started (Ray)
        proc.wait()
    metrics = tmp_path / "runs" / "killed" / "metrics.jsonl"
    assert [json.loads(line)["rollout_id"] for line in metrics.read_text().splitlines()] == list(range(kill_at + 1))
    saved = History.load(tmp_path / "runs" / "killed").timeline  # spans of the rollouts up to the checkpoint
    subprocess.run([sys.executable, str(script), "resume"], env=env, check=True, timeout=900)

    # the reference, in this process (same data, seed and threads)
    reference = tiny_config(tmp_path / "data", **{**settings, "name": "reference"})
    if colocate:
        whole = run(reference, tmp_path, threads=1)
    else:
        request.getfixturevalue("ray_session")
        stop = threading.Event()
        run(reference, tmp_path, threads=1, stop=stop,
            on_rollout=lambda row: row["rollout_id"] == kill_at and stop.set())
        whole = run(reference, tmp_path, threads=1, resume=True)
    killed = History.load(tmp_path / "runs" / "killed")
    assert [r["rollout_id"] for r in killed.rows] == list(range(n))
    assert [s["rollout_id"] for s in killed.timeline if s["phase"] == "rollout"] == list(range(n))  # 3, 4: once
    # resumed from the checkpoint after rollout 2, not started over: rollouts 0-2 keep the killed run's spans
    assert [s for s in killed.timeline if s["rollout_id"] < 3] == [s for s in saved if s["rollout_id"] < 3]
    assert killed.metric("rollout/raw_reward") == whole.metric("rollout/raw_reward")
    assert killed.metric("train/loss") == pytest.approx(whole.metric("train/loss"), rel=1e-4, abs=1e-6)


def test_a_checkpoint_caught_mid_rename_is_recovered(tiny, tmp_path):
    """Trainer.save renames the last checkpoint to checkpoint.old, then the new one into place; a kill
    between the two leaves only checkpoint.old. Resume must find it there (and put it back)."""
    first = run(tiny(name="mid", num_rollout=4, save_interval=2), tmp_path)
    ckpt = first.run_dir / "checkpoint"
    ckpt.rename(first.run_dir / "checkpoint.old")  # the state a kill between the renames leaves
    (first.run_dir / "checkpoint.tmp-12345").mkdir()  # and the half-written new one
    resumed = run(tiny(name="mid", num_rollout=6, save_interval=2), tmp_path, resume=True)
    assert [r["rollout_id"] for r in resumed.rows] == list(range(6))
    assert resumed.timeline[:len(first.timeline)] == first.timeline  # 0-3 not run again: resumed, not restarted
    assert [s["rollout_id"] for s in resumed.timeline if s["phase"] == "rollout"] == list(range(6))  # 4, 5 only new
    assert ckpt.is_dir() and not (first.run_dir / "checkpoint.old").exists()
    whole = run(tiny(name="whole", num_rollout=6, save_interval=2), tmp_path)
    assert resumed.metric("rollout/raw_reward") == whole.metric("rollout/raw_reward")


def test_a_failing_reward_in_the_split_layout_names_the_sample(ray_session, reward_module, tiny, tmp_path):
    """Raised inside a Ray actor, the reward's error reaches the caller as the same RewardError,
    without Ray's wrapping (and its remote traceback) around it."""
    with pytest.raises(RewardError) as info:
        run(tiny(colocate=False, custom_rm_path=f"{reward_module}.raises"), tmp_path)
    assert type(info.value) is RewardError
    assert str(info.value).startswith(f"reward {reward_module}.raises raised KeyError: 'oops' on rollout 0, sample 0 ")
    assert "Traceback" not in str(info.value) and "ray" not in str(info.value).lower()


def test_resume_refuses_another_config(tiny, tmp_path):
    run(tiny(name="same"), tmp_path)
    with pytest.raises(ValueError, match="belongs to another config"):
        run(tiny(name="same", lr=0.5), tmp_path, resume=True)


# ---- bad input, named ----------------------------------------------------------------------------

def _jsonl(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_missing_key_lists_the_columns(tiny, tmp_path):
    data = _jsonl(tmp_path / "rows.jsonl", [{"question": "What is 1 + 1?", "answer": "2"}])
    with pytest.raises(DataError, match=r"no column\(s\) \['messages', 'label'\]; the columns are \['question', 'answer'\]"):
        run(tiny(dataset=LocalDataset(data, input_key="messages", label_key="label")), tmp_path)


def test_empty_dataset(tiny, tmp_path):
    data = tmp_path / "empty.jsonl"
    data.write_text("")
    with pytest.raises(DataError, match="empty.jsonl has no rows"):
        run(tiny(dataset=LocalDataset(data, input_key="input", label_key="label")), tmp_path)


def test_invalid_config_fails_before_anything(tiny, tmp_path):
    with pytest.raises(ConfigError):
        run(tiny(global_batch_size=12), tmp_path)
    assert not (tmp_path / "runs").exists()


def _sums(path: Path, long_lines=(), long_text="x" * 60) -> Path:
    """Nine short sums, with `long_text` as the prompt on the given lines (from 1)."""
    rows = [{"input": long_text if i + 1 in long_lines else f"What is {i} + 1?", "label": str(i + 1)}
            for i in range(9)]
    return _jsonl(path, rows)


def test_prompts_over_rollout_max_prompt_len_are_skipped_as_slime_skips_them_and_named(tiny, tmp_path, capsys):
    """slime's Dataset drops a prompt of more than --rollout-max-prompt-len tokens (slime/utils/data.py);
    the local run does too, and names them."""
    data = _sums(tmp_path / "rows.jsonl", long_lines=(3, 7))
    history = run(tiny(dataset=LocalDataset(data, input_key="input", label_key="label"), rollout_max_prompt_len=40,
                       num_rollout=1), tmp_path)
    assert len(history.rows) == 1
    err = capsys.readouterr().err
    assert f"2 of 9 prompts of {data} are longer than rollout_max_prompt_len=40 tokens (line 3, line 7); they are " \
           "skipped, as slime skips them" in err
    everything = _sums(tmp_path / "long.jsonl", long_lines=range(1, 10))
    with pytest.raises(DataError, match=r"every prompt is too long: 9 of 9 prompts .* \(line 1, line 2, .*line 9\)"):
        run(tiny(dataset=LocalDataset(everything, input_key="input", label_key="label"), rollout_max_prompt_len=40),
            tmp_path)


def test_prompt_length_is_bounded_when_rollout_max_prompt_len_is_unset(tiny, tmp_path, capsys):
    """A 10 kB prompt asked for 12.8 GB and a 50 MB line drove the process to the OOM killer: unset,
    the limit is the tiny model's context, and text that cannot fit is not even tokenized."""
    import time

    data = _sums(tmp_path / "rows.jsonl", long_lines=(2,), long_text="1 + " * 2_000_000)  # an 8 MB line
    began = time.monotonic()
    history = run(tiny(dataset=LocalDataset(data, input_key="input", label_key="label"), num_rollout=1), tmp_path)
    assert len(history.rows) == 1 and time.monotonic() - began < 120
    assert "1 of 9 prompts" in capsys.readouterr().err
    data = _sums(tmp_path / "rows.jsonl", long_lines=(5,), long_text="y" * 600)
    run(tiny(name="kB", dataset=LocalDataset(data, input_key="input", label_key="label"), num_rollout=1), tmp_path)
    assert (f"1 of 9 prompts of {data} are longer than 512 (the tiny model's context; rollout_max_prompt_len is "
            "unset) tokens (line 5)") in capsys.readouterr().err


def test_a_reward_module_that_fails_to_import_is_a_reward_error(tmp_path, monkeypatch):
    from gym.local.rewards import load_custom_reward

    (tmp_path / "broken_syntax.py").write_text("async def f(args, sample:\n")
    (tmp_path / "broken_import.py").write_text("raise RuntimeError('no GPU here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RewardError, match=r"importing 'broken_syntax' failed: SyntaxError"):
        load_custom_reward("broken_syntax.f")
    with pytest.raises(RewardError, match=r"importing 'broken_import' failed: RuntimeError: no GPU here"):
        load_custom_reward("broken_import.f")


def test_evaluate_local_limit_must_be_at_least_one(tiny, tmp_path):
    from gym.errors import UserError
    from gym.local.evaluate import evaluate_local

    for limit in (0, -1, 1.5):
        with pytest.raises(UserError, match=f"limit={limit!r} must be None"):
            evaluate_local(tiny(), tmp_path / "data" / "tiny_sums_test.jsonl", out_dir=tmp_path / "runs", limit=limit)


@pytest.fixture
def reward_module(tmp_path, monkeypatch):
    (tmp_path / "bad_rewards.py").write_text(textwrap.dedent("""
        async def raises(args, sample, **kwargs):
            raise KeyError("oops")

        async def nan(args, sample, **kwargs):
            return float("nan")

        async def text(args, sample, **kwargs):
            return "1.0"

        async def as_dict(args, sample, **kwargs):
            return {"score": 1.0, "format": 0.5}

        def not_async(args, sample, **kwargs):
            return 1.0

        async def huge(args, sample, **kwargs):
            return 1e200

        async def huge_int(args, sample, **kwargs):
            return 10 ** 400

        async def exits(args, sample, **kwargs):
            raise SystemExit(3)

        async def awaits_forever(args, sample, **kwargs):
            import asyncio
            await asyncio.sleep(3600)

        async def blocks_forever(args, sample, **kwargs):
            import time
            time.sleep(3600)
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    return "bad_rewards"


@pytest.mark.parametrize("fn,pattern", [
    ("raises", r"raised KeyError: 'oops' on rollout 0, sample 0 \(dataset row \d+, \S+tiny_sums_(train|test)\.jsonl line \d+: "
               r"prompt"),
    ("nan", r"returned nan on rollout 0, sample 0"),
    ("text", r"returned '1.0' \(str\); expected a float"),
    ("as_dict", r"returned a dict with keys \['format', 'score'\]; set reward_key"),
    ("huge", r"returned 1e\+200, beyond float32's range \(±3.403e\+38\): rewards are trained on as float32 on "
             r"rollout 0, sample 0 \(dataset row"),
    ("huge_int", r"returned 1000000000\d+, beyond float32's range"),
    ("exits", r"raised SystemExit: 3 on rollout 0, sample 0 \(dataset row"),
])
def test_bad_reward_names_the_sample(reward_module, tiny, tmp_path, fn, pattern):
    with pytest.raises(RewardError, match=pattern):
        run(tiny(custom_rm_path=f"{reward_module}.{fn}"), tmp_path)


def test_dict_reward_with_key(reward_module, tiny, tmp_path):
    history = run(tiny(custom_rm_path=f"{reward_module}.as_dict", reward_key="score", num_rollout=1), tmp_path)
    assert history.rows[0]["rollout/raw_reward"] == 1.0


def test_reward_that_is_not_async_is_refused(reward_module, tiny, tmp_path):
    with pytest.raises(ConfigError, match="must be `async def not_async"):
        run(tiny(custom_rm_path=f"{reward_module}.not_async"), tmp_path)


@pytest.mark.parametrize("fn", ["awaits_forever", "blocks_forever"])
def test_a_reward_over_its_timeout_names_the_sample(reward_module, tiny, tmp_path, fn):
    """A reward that never returns hung the run (both layouts; the split one is
    tests/test_local_folder.py's kill test, whose reward blocks in a Ray actor)."""
    import time

    began = time.monotonic()
    with pytest.raises(RewardError, match=rf"reward {reward_module}.{fn} took longer than 0.5 s \(reward_timeout_s\) "
                                          r"and was abandoned on rollout 0, sample 0 \(dataset row"):
        run(tiny(custom_rm_path=f"{reward_module}.{fn}"), tmp_path, reward_timeout_s=0.5)
    assert time.monotonic() - began < 60
    with pytest.raises(ValueError, match="reward_timeout_s=0 must be a positive number of seconds"):
        run(tiny(), tmp_path, reward_timeout_s=0)


def test_non_finite_weights_stop_the_run_naming_the_rollout_and_are_never_saved(tiny, tmp_path):
    from gym.local.workers import TrainingError

    with pytest.raises(TrainingError, match=r"training on rollout 0 made weights non-finite \(NaN or inf\)"):
        run(tiny(name="diverges", lr=1e20, save_interval=1), tmp_path)
    assert not list((tmp_path / "runs" / "diverges").glob("checkpoint*"))


def test_resuming_a_finished_run_says_it_is_finished(request, tiny, tmp_path, capsys):
    """Resuming a finished split run crashed with KeyError (the colocated one said nothing)."""
    request.getfixturevalue("ray_session")
    for colocate in (True, False):
        config = tiny(name=f"done-{colocate}", colocate=colocate, num_rollout=2)
        first = run(config, tmp_path)
        again = run(config, tmp_path, resume=True)
        assert f"run 'done-{colocate}' is finished: 2 of 2 rollouts done" in capsys.readouterr().err
        assert again.rows == first.rows


def test_no_eval_means_no_evaluation_at_all(tiny, tmp_path):
    """eval_interval=0 (the CLI's --no-eval) still evaluated once before training."""
    history = run(tiny(eval_interval=0, num_rollout=2), tmp_path)
    assert not [k for row in history.rows for k in row if k.startswith("eval/")]
    assert "eval" not in {s["phase"] for s in history.timeline}


# ---- pieces --------------------------------------------------------------------------------------

def test_group_advantages_are_normalised_per_prompt():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    adv = grpo.group_advantages(rewards, n=4)
    assert adv[:4].sum() == pytest.approx(0.0, abs=1e-6) and adv[0] > 0 > adv[1]
    assert adv[0] == pytest.approx(0.75 / (0.5 + 1e-6))  # (1 - 0.25) / std([1,0,0,0]) with Bessel's correction
    assert torch.all(adv[4:] == 0)  # a group that all agree teaches nothing


def test_clipped_loss_matches_ppo():
    logp = torch.log(torch.tensor([[1.5, 0.5]]))
    old = torch.zeros(1, 2)
    loss, clipped = grpo.clipped_policy_loss(logp, old, torch.tensor([1.0]), eps_clip=0.2, eps_clip_high=0.28)
    assert loss.tolist()[0] == pytest.approx([-1.28, -0.5])  # ratio 1.5 clipped to 1.28; 0.5 not (min of two)
    assert clipped.tolist() == [[1.0, 0.0]]


def test_low_var_kl_is_zero_at_the_reference_and_positive_elsewhere():
    logp = torch.tensor([-1.0, -2.0])
    assert grpo.kl_to_reference(logp, logp, "low_var_kl").abs().max() == 0
    assert (grpo.kl_to_reference(logp, logp - 0.5, "low_var_kl") > 0).all()


def test_shared_prefix_logprobs_equal_full_sequence_logprobs(tmp_path):
    from gym.local.tiny import build_model
    from gym.models import Qwen3_4B

    tok = build_tokenizer(["What is 3 + 4?", "Hi", "user\n", "assistant\n", "0123456789"])
    model = build_model(Qwen3_4B().architecture, len(tok), 0, tok.pad_token_id)
    prompts = [tok(tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                           add_generation_prompt=True), add_special_tokens=False).input_ids
               for q in ("What is 3 + 4?", "Hi")]
    ids, mask = grpo.left_pad(prompts, tok.pad_token_id)
    responses, rmask = grpo.generate(model, ids, mask, 3, 5, 1.0, 1.0, tok.eos_token_id, tok.pad_token_id,
                                     torch.Generator().manual_seed(0))
    rollout = grpo.Rollout(ids, mask, responses, rmask, torch.zeros(6), torch.zeros(6))
    with torch.no_grad():
        shared, _ = grpo.response_logprobs(model, rollout, slice(0, 6))
        for i in range(6):
            seq = torch.tensor(prompts[i // 3] + responses[i][rmask[i].bool()].tolist())
            full = model(input_ids=seq[None]).logits[0, :-1].log_softmax(-1).gather(-1, seq[1:, None]).squeeze(-1)
            k = int(rmask[i].sum())
            assert torch.allclose(full[-k:], shared[i, :k], atol=1e-5)


def test_prompt_order_is_a_function_of_the_rollout_id():
    rows = list(range(10))
    first = [prompts_for_rollout(rows, k, 4, seed=0, shuffle=True) for k in range(5)]
    assert first == [prompts_for_rollout(rows, k, 4, seed=0, shuffle=True) for k in range(5)]
    epoch0 = sum(first[:2], []) + first[2][:2]
    assert sorted(epoch0) == rows  # an epoch visits every row once


def test_builtin_rewards_follow_slime():
    assert math_reward("so \\boxed{42}", "42") == 1
    assert math_reward("42", "42") == 0  # math needs \\boxed{}
    assert math_reward("\\boxed{1,000}", "1000") == 1
    assert math_reward("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}") == 1
    assert deepscaler_reward("<think>..</think> \\boxed{7}", "7") == 1
    assert deepscaler_reward("\\boxed{7}", "7") == 0  # deepscaler reads only after </think>


def test_sample_has_slimes_fields():
    s = Sample(prompt="p", response="r", label="1")
    for name in ("group_index", "index", "prompt", "tokens", "response", "response_length", "label", "reward",
                 "status", "metadata"):
        assert hasattr(s, name)


def test_tokenizer_renders_qwen_chatml():
    tok = build_tokenizer(["What is 1 + 1?", "user\n", "assistant\n"])
    text = tok.apply_chat_template([{"role": "user", "content": "What is 1 + 1?"}], tokenize=False,
                                   add_generation_prompt=True)
    assert text == "<|im_start|>user\nWhat is 1 + 1?<|im_end|>\n<|im_start|>assistant\n"
    assert tok.decode(tok(text, add_special_tokens=False).input_ids, skip_special_tokens=True) == \
        "user\nWhat is 1 + 1?\nassistant\n"


def test_history_plots(ray_session, tiny, tmp_path):
    history = run(tiny(colocate=False), tmp_path)
    fig = history.reward_curve()
    assert fig.axes[0].get_xlabel() == "rollout" and len(fig.axes[0].lines) == 2
    losses = history.loss_curves()
    assert [ax.get_title() for ax in losses.axes] == ["train/loss", "train/entropy_loss", "train/grad_norm"]
    assert len(losses.axes[0].lines[0].get_xdata()) == len(history.rows)
    gantt = history.timeline_chart()
    assert [t.get_text() for t in gantt.axes[0].get_yticklabels()] == ["rollout", "train"]
    assert len(gantt.axes[0].patches) == len(history.timeline)
