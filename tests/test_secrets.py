"""No secret value reaches argv, the plan, the run spec, the app or printed output."""

import dataclasses
import json

import pytest

from gym import SlimeConfig, WandbConfig
from gym.cli import main
from gym.launch.app import build_run_app
from gym.launch.cluster import describe_env
from gym.slime.argv import SECRET_FLAGS

SENTINELS = {"WANDB_API_KEY": "wandb-sentinel-0123456789abcdef0123456789abcdef",
             "HF_TOKEN": "hf_sentinelSENTINELsentinel0123456789"}


@pytest.fixture
def secrets_in_env(monkeypatch):
    for key, value in SENTINELS.items():
        monkeypatch.setenv(key, value)


def assert_clean(text: str) -> None:
    for value in SENTINELS.values():
        assert value not in text


def test_wandb_config_has_no_key_field():
    assert "key" not in {f.name for f in dataclasses.fields(WandbConfig)}
    with pytest.raises(TypeError):
        WandbConfig(project="p", group="g", key="abc")


def test_nothing_carries_the_key(secrets_in_env, capsys):
    config = SlimeConfig(wandb=WandbConfig(project="p", group="g"), num_nodes=2)
    argv = config.slime_argv()
    assert not set(argv) & set(SECRET_FLAGS)
    assert "--use-wandb" in argv
    plan = config.plan()
    ra = build_run_app(config.resolve())
    assert_clean(" ".join(argv))
    assert_clean(str(plan) + plan._repr_html_())
    assert_clean(json.dumps(ra.spec))
    assert_clean(repr(ra.train.info()))
    assert_clean(describe_env(ra.spec["env"], ra.spec["required_env"]))
    assert main(["plan", "--set", "num_nodes=2"]) == 0
    assert main(["argv", "--nodes", "2"]) == 0
    assert_clean(capsys.readouterr().out)


def test_secret_flags_cannot_be_smuggled_in(secrets_in_env):
    config = SlimeConfig(extra_args=["--wandb-key", SENTINELS["WANDB_API_KEY"]])
    problems = [p for p in config.problems() if p.rule == "extra_args_known"]
    assert problems and "secret" in problems[0].message
    assert_clean(str(problems[0]))


def test_job_log_names_secrets_without_values():
    env = {"PYTHONPATH": "/root/Megatron-LM/", **SENTINELS}  # even handed the values, it prints names only
    line = describe_env(env, ["WANDB_API_KEY"])
    assert "WANDB_API_KEY" in line and "HF_TOKEN" in line and "PYTHONPATH=/root/Megatron-LM/" in line
    assert_clean(line)


def test_the_job_environment_has_no_secret():
    """What reaches Ray's runtime_env (shown by the dashboard) and the job log: names, never values."""
    ra = build_run_app(SlimeConfig(wandb=WandbConfig(project="p", group="g")).resolve())
    assert ra.spec["required_env"] == ["WANDB_API_KEY"]
    assert not set(ra.spec["env"]) & set(SENTINELS)


def test_a_local_run_that_reads_the_key_records_it_nowhere(secrets_in_env, monkeypatch, tmp_path, capsys):
    """The local backend is the code that reads WANDB_API_KEY here (W&B offline): no file of the run
    and nothing printed holds it."""
    from gym.local import run_local, tiny_config

    monkeypatch.setenv("WANDB_MODE", "offline")
    config = tiny_config(tmp_path / "data", num_rollout=1, rollout_batch_size=4, n_samples_per_prompt=4,
                         global_batch_size=16, eval_interval=None, wandb=WandbConfig(project="p", group="g"))
    history = run_local(config, out_dir=tmp_path / "runs", progress=True)
    files = [p for p in history.run_dir.rglob("*") if p.is_file()]
    assert any("wandb" in p.parts for p in files)  # W&B did run (offline) and wrote its records
    for path in files:
        assert SENTINELS["WANDB_API_KEY"].encode() not in path.read_bytes(), path
    captured = capsys.readouterr()
    assert_clean(captured.out + captured.err)
