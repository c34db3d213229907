"""`python -m gym plan|argv|run` for a preset plus overrides."""

import json
import os
import re
import subprocess
import sys

import pytest

from gym.cli import main


def test_plan_with_overrides(capsys):
    assert main(["plan", "--model", "Qwen3-8B", "--nodes", "2", "--set", "num_rollout=100"]) == 0
    out = capsys.readouterr().out
    assert "2 × 8 H100 = 16 GPUs" in out
    assert "data parallel (DP)   8 = 16 / 2" in out
    assert "rollouts             100\n" in out


def test_argv_split_layout(capsys):
    assert main(["argv", "--nodes", "4", "--no-colocate"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("python3 /root/slime/train_async.py")
    assert "--actor-num-nodes 3 \\" in out and "--rollout-num-gpus 8 \\" in out


def test_invalid_config_exits_2_with_every_problem(capsys):
    assert main(["plan", "--nodes", "4", "--no-colocate", "--set", "global_batch_size=128",
                 "--set", "rollout_temperature=0"]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err
    assert "nearest valid: 96 | 120 | 144" in err


def test_unknown_field_is_rejected(capsys):
    assert main(["plan", "--set", "global_batch=8", "--set", "actor_num_gpus_per_node=4"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("2 problems in SlimeConfig:\n  - [global_batch] global_batch is not a SlimeConfig field "
                          "(did you mean global_batch_size?); nearest valid: global_batch_size=8\n")
    assert "is slime's --actor-num-gpus-per-node, not a SlimeConfig field: set gpus_per_node" in err
    assert main(["plan", "--set", "global_batch_size"]) == 2
    assert "expected field=value" in capsys.readouterr().err


def test_module_entry_point_prints_a_plan():
    out = subprocess.run([sys.executable, "-m", "gym", "plan", "--nodes", "4"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "4 × 8 H100 = 32 GPUs" in out.stdout


# ---- `run`: the local backend, and a user's errors as one message and an exit status --------------

SMALL = ["--rollouts", "1", "--set", "rollout_batch_size=4", "--set", "n_samples_per_prompt=4",
         "--set", "global_batch_size=16"]


def _gym(*args, cwd):
    return subprocess.run([sys.executable, "-m", "gym", *args], capture_output=True, text=True, timeout=300, cwd=cwd)


def test_module_run_trains_locally_and_a_bad_row_is_one_message(tmp_path):
    """The real entry point: a tiny run writes its files; a bad row exits 2 with its line, no traceback."""
    out = _gym("run", *SMALL, "--rollouts", "2", "--out-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    run_dir = tmp_path / "runs" / "tiny-sums"
    assert [json.loads(line)["rollout_id"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()] == [0, 1]
    assert (run_dir / "reward.png").read_bytes()[:4] == b"\x89PNG"
    assert "reward:" in out.stdout and str(run_dir / "metrics.jsonl") in out.stdout

    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input": "What is 1 + 1?", "label": "2"}\n\n{"label": "3"}\n')
    bad = _gym("run", "--data", str(rows), *SMALL, "--out-dir", str(tmp_path / "runs"), cwd=tmp_path)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr
    assert bad.stderr.strip() == (f"error: {rows} line 3: 'input' must be a string or a list of "
                                  "{'role', 'content'} messages, got None")


@pytest.mark.parametrize("text,message", [
    ('{"input": "What is 1 + 1?", "label": "2"}\n{"input": "What is 2 + 2?", "label": "4"\n',
     "line 2: not valid JSON (Expecting ',' delimiter, column 41)"),
    ('{"input": "1 + 1?", "label": "2"}\n\n\n["1 + 2?", "3"]\n', "line 4: expected a JSON object"),
    ('{"input": "1 + 1?", "label": "2"}\n{"input": [{"role": "user"}], "label": "3"}\n',
     "line 2: 'input' must be a string or a list of {'role', 'content'} messages"),
    ('{"question": "1 + 1?", "label": "2"}\n', "no column(s) ['input']; the columns are ['question', 'label']"),
    ("", "has no rows"),
    ("\x00\xff\xfe binary", "line 1: not UTF-8 text (byte 0xff at column 2)"),
    ('{"input": "1 + 1?", "label": "2"}\n{"input": "caf\udcff", "label": "3"}\n',
     "line 2: not UTF-8 text (byte 0xff at column 15)"),
    ('{"input": [{"role": "User", "content": "1 + 1?"}], "label": "2"}\n',
     "line 1: 'input' message 0 has role 'User'; chat templates know 'system', 'user', 'assistant', 'tool'"),
    ('{"input": [{"role": "user", "content": 5}], "label": "2"}\n',
     "line 1: 'input' message 0 has content 5 (int); expected text"),
    ('{"input": "1 + 1?", "label": "2"}\n{"input": [], "label": "2"}\n',
     "line 2: 'input' is an empty list of messages"),
])
def test_run_bad_data_exits_2_naming_the_line(tmp_path, capsys, text, message):
    rows = tmp_path / "rows.jsonl"
    rows.write_bytes(text.encode("utf-8", "surrogateescape") if "\x00" not in text else b"\x00\xff\xfe binary")
    assert main(["run", "--data", str(rows), *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {rows}") and message in err, err


def test_run_unreadable_files_exit_2(tmp_path, capsys):
    missing = tmp_path / "missing.jsonl"
    assert main(["run", "--data", str(missing), *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err  # a config rule (checked before anything runs) names it
    assert f"{missing}" in err and "does not exist" in err, err
    corrupt = tmp_path / "rows.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    assert main(["run", "--data", str(corrupt), *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {corrupt} could not be read as parquet: ")
    if os.geteuid() != 0:  # root reads any file
        locked = tmp_path / "locked.jsonl"
        locked.write_text('{"input": "1 + 1?", "label": "2"}\n')
        locked.chmod(0)
        assert main(["run", "--data", str(locked), *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
        assert capsys.readouterr().err == f"error: prompt file {locked} cannot be read: Permission denied\n"


def test_run_failing_reward_exits_2_naming_the_sample(tmp_path, capsys, monkeypatch):
    (tmp_path / "cli_rewards.py").write_text("async def raises(args, sample, **kwargs):\n"
                                             "    raise ZeroDivisionError('division by zero')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["run", *SMALL, "--set", "custom_rm_path=cli_rewards.raises", "--out-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err
    last = err.strip().splitlines()[-1]  # after the progress bar
    assert last.startswith("error: reward cli_rewards.raises raised ZeroDivisionError: division by zero on rollout 0, "
                           "sample 0 (dataset row "), err
    # slime evaluates before training (eval_interval set): the first failing sample may be an eval one
    assert re.search(r"tiny_task/tiny_sums_(train|test)\.jsonl line \d+: prompt '", last) and "Traceback" not in err


def test_a_reward_raising_system_exit_exits_2_not_3(tmp_path, capsys, monkeypatch):
    """Exit 3 is reserved for launch refusals: a reward's SystemExit(3) used to end the CLI with 3."""
    (tmp_path / "exit_rewards.py").write_text("async def exits(args, sample, **kwargs):\n    raise SystemExit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["run", *SMALL, "--set", "custom_rm_path=exit_rewards.exits", "--out-dir", str(tmp_path / "runs")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.strip().splitlines()[-1].startswith("error: reward exit_rewards.exits raised SystemExit: 3 on rollout 0")


def test_run_with_a_reward_timeout(tmp_path, capsys, monkeypatch):
    (tmp_path / "hang_rewards.py").write_text("import asyncio\nasync def hangs(args, sample, **kwargs):\n"
                                              "    await asyncio.sleep(3600)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code = main(["run", *SMALL, "--set", "custom_rm_path=hang_rewards.hangs", "--reward-timeout", "0.5",
                 "--out-dir", str(tmp_path / "runs")])
    assert code == 2
    assert "took longer than 0.5 s (reward_timeout_s)" in capsys.readouterr().err


def test_run_resume_of_another_config_exits_2(tmp_path, capsys):
    runs = str(tmp_path / "runs")
    assert main(["run", *SMALL, "--out-dir", runs]) == 0
    capsys.readouterr()
    assert main(["run", *SMALL, "--set", "lr=0.5", "--resume", "--out-dir", runs]) == 2
    assert "belongs to another config or seed" in capsys.readouterr().err


def test_run_on_modal_without_credentials_exits_3_saying_what_is_missing(capsys):
    assert main(["run", "--backend", "modal"]) == 3
    err = capsys.readouterr().err
    assert "no Modal credentials" in err and "modal setup" in err and "Traceback" not in err
    # the seed's 3000-rollout run is also over the default $50 bound: one message names both
    assert err.startswith("not launched, nothing was created:\n  - ") and "is estimated at up to $" in err
    assert "--max-usd" in err and "python -m gym smoke" in err


def test_an_error_from_the_modal_client_exits_3_without_a_traceback(capsys, monkeypatch):
    # An expired token or a workspace without access surfaces as one of modal's own exceptions
    # once the launch talks to Modal; the real exception class, raised where launch() would.
    import modal.exception

    import gym.launch.launcher as launcher

    def refused(config, **kwargs):
        raise modal.exception.AuthError("Token ID is malformed")

    monkeypatch.setattr(launcher, "launch", refused)
    assert main(["run", "--backend", "modal", "--rollouts", "1", "--max-usd", "500"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: Modal refused: AuthError: Token ID is malformed") and "Traceback" not in err
    monkeypatch.setattr(launcher, "launch", lambda config, **kw: 1 / 0)  # a bug keeps its traceback
    with pytest.raises(ZeroDivisionError):
        main(["run", "--backend", "modal", "--rollouts", "1", "--max-usd", "500"])


def test_ray_address_is_ignored_by_the_split_local_run(tmp_path):
    """RAY_ADDRESS set with --no-colocate crashed with Ray's traceback (it tried to join that cluster)."""
    env = {**os.environ, "RAY_ADDRESS": "127.0.0.1:1"}
    out = subprocess.run([sys.executable, "-m", "gym", "run", "--no-colocate", *SMALL, "--out-dir",
                          str(tmp_path / "runs")], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "RAY_ADDRESS=127.0.0.1:1 is ignored: a local run starts its own Ray" in out.stderr
