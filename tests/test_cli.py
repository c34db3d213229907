"""`python -m gym plan|argv|run` for a preset plus overrides."""

import subprocess
import sys

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


def test_unknown_field_is_rejected():
    try:
        main(["plan", "--set", "global_batch=8"])
    except SystemExit as exc:
        assert "global_batch=8" in str(exc)
    else:
        raise AssertionError("expected SystemExit")


def test_module_entry_point_prints_a_plan():
    out = subprocess.run([sys.executable, "-m", "gym", "plan", "--nodes", "4"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "4 × 8 H100 = 32 GPUs" in out.stdout
