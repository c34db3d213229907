"""gym.exercises: every check accepts the right answer and refuses wrong ones with a reason."""

import pytest

from gym.datasets import GSM8K
from gym.exercises import CHECKS, check
from gym.local.rewards import math_reward
from gym.models import Qwen3_4B
from gym.slime import SlimeConfig


def test_unanswered_is_not_an_error(capsys):
    assert check("03.1", None) is False
    assert "not answered yet" in capsys.readouterr().out


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="03.1"):
        check("09.9", 1)


@pytest.mark.parametrize("key, right, wrong", [
    ("01.1", SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), rollout_batch_size=16),
     [SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), global_batch_size=8),  # prompts follow: still 4 steps
      SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), rollout_batch_size=16, num_nodes=2)]),  # another field
    ("01.2", {0, 1}, [{0}, {0, 1, 3}, "0, 1"]),
    ("02.1", SlimeConfig(model=Qwen3_4B(), num_nodes=2, num_rollout=6000),
     [SlimeConfig(model=Qwen3_4B(), num_nodes=2), SlimeConfig(model=Qwen3_4B(), num_nodes=4)]),
    ("02.2", 128, [120, 256, "128"]),
    ("03.1", SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False, n_samples_per_prompt=8,
                         rollout_batch_size=72, global_batch_size=72),
     [SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False),  # valid, but not 8 steps
      SlimeConfig(model=Qwen3_4B(), num_nodes=4, rollout_batch_size=64, global_batch_size=64)]),  # colocated
    ("03.2", SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False, train_script="train.py"),
     [SlimeConfig(model=Qwen3_4B(), num_nodes=4, colocate=False), SlimeConfig(model=Qwen3_4B(), num_nodes=4)]),
    ("03.3", 4 / 3, [2, 0.75, 1.0]),
    ("04.1", 8192, [9216, 7168, 8000]),
    ("04.2", 8, [4, 3, 16]),
    ("05.1", 40, [45, 39, 30]),
    ("06.2", lambda response, label: math_reward(response, label) == 1,
     [lambda response, label: label in response,  # an unboxed answer counts
      lambda response, label: response.endswith("{72}") or "{1,000}" in response]),  # not the *last* box
])
def test_right_and_wrong_answers(key, right, wrong, capsys):
    assert check(key, right) is True
    for answer in wrong:
        assert check(key, answer) is False
    out = capsys.readouterr().out
    assert "not yet ✗ (" in out  # every refusal says why


def test_05_2_budget_uses_the_performance_model():
    from gym.perf import estimate

    run = SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), num_nodes=4, global_batch_size=128, rollout_batch_size=64,
                      n_samples_per_prompt=8, num_rollout=3000)
    n = 1
    while estimate(run.replace(num_rollout=n * 2)).run_usd <= 1000:
        n *= 2
    while estimate(run.replace(num_rollout=n + 1)).run_usd <= 1000:
        n += 1
    assert check("05.2", run.replace(num_rollout=n), budget_usd=1000) is True
    assert check("05.2", run.replace(num_rollout=n + 1), budget_usd=1000) is False  # over budget
    assert check("05.2", run.replace(num_rollout=n // 2), budget_usd=1000) is False  # far under


def test_every_exercise_is_tested():
    assert set(CHECKS) == {"01.1", "01.2", "02.1", "02.2", "02.3", "03.1", "03.2", "03.3", "04.1", "04.2", "05.1",
                           "05.2", "06.1", "06.2"}
