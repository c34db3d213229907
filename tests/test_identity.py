"""A run's identity: the derived name (so the Modal app, the checkpoint volume and the local run
folder) depends on what each rollout computes, not on how long the run goes on or how often it
saves, evaluates or prunes; relaunching with more rollouts is the same run and resumes."""

import pytest

from gym.datasets import GSM8K
from gym.launch.app import volume_names
from gym.launch.pipeline import OVERRIDE_SCHEDULER_FLAG, attempt_argv
from gym.models import Qwen3_4B
from gym.slime import SlimeConfig
from gym.slime.argv import checkpoint_dir

RUN = SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), num_nodes=4, global_batch_size=128, rollout_batch_size=64,
                  n_samples_per_prompt=8, num_rollout=3000, eval_interval=20, save_interval=20)


@pytest.mark.parametrize("change", [dict(num_rollout=3), dict(num_rollout=6000), dict(num_rollout=None),
                                    dict(save_interval=50), dict(eval_interval=5), dict(keep_checkpoints=1)])
def test_how_long_and_how_often_are_not_the_runs_identity(change):
    other = RUN.replace(**change)
    assert other.resolve().name == RUN.resolve().name
    assert volume_names(other.resolve().name) == volume_names(RUN.resolve().name)
    assert checkpoint_dir(other.resolve().name) == checkpoint_dir(RUN.resolve().name)


@pytest.mark.parametrize("change", [dict(lr=2e-6), dict(n_samples_per_prompt=16, rollout_batch_size=32),
                                    dict(eps_clip_high=0.2), dict(colocate=False, global_batch_size=120,
                                                                  rollout_batch_size=60)])
def test_what_a_rollout_computes_is(change):
    assert RUN.replace(**change).resolve().name != RUN.resolve().name


def test_the_smoke_run_and_the_full_run_share_a_checkpoint_volume():
    # lesson 05: SMOKE = run.replace(num_rollout=3); the full run then continues from its saves
    smoke = RUN.replace(num_rollout=3)
    assert smoke.build_app().name == RUN.build_app().name
    assert smoke.slime_argv()[smoke.slime_argv().index("--save") + 1] == RUN.slime_argv()[RUN.slime_argv().index("--save") + 1]


def test_a_relaunch_with_more_rollouts_resumes_with_the_scheduler_override():
    argv = RUN.replace(num_rollout=6000).slime_argv()
    resumed = attempt_argv(argv, 6000, resuming=True)
    assert resumed[resumed.index("--num-rollout") + 1] == "6000" and resumed.count(OVERRIDE_SCHEDULER_FLAG) == 1
    assert OVERRIDE_SCHEDULER_FLAG not in attempt_argv(argv, 6000, resuming=False)


def test_a_local_run_with_a_derived_name_trains_longer_from_its_checkpoint(tmp_path):
    from gym.local import run_local, tiny_config

    config = tiny_config(data_dir=tmp_path / "data", name=None, num_rollout=2, save_interval=2, eval_interval=None,
                         rollout_batch_size=8, n_samples_per_prompt=4, global_batch_size=32)
    first = run_local(config, out_dir=tmp_path / "runs", progress=False)
    longer = run_local(config.replace(num_rollout=4), out_dir=tmp_path / "runs", progress=False, resume=True)
    assert first.run_dir == longer.run_dir  # the same folder: the same run
    assert [row["rollout_id"] for row in longer.rows] == [0, 1, 2, 3]
    assert longer.rows[:2] == first.rows  # rollouts 0-1 kept, not re-run
