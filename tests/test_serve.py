"""gym.launch.serve: the serve app of a run, built offline with real modal objects (Function.info())."""

import json

import pytest

from gym.datasets import GSM8K
from gym.launch.serve import (EVAL_TIMEOUT_S, SCALEDOWN_S, SPEC_ENV, ServeError, build_serve_app, latest_checkpoint,
                              serve_bound_usd)
from gym.models import Qwen3_4B
from gym.slime import SlimeConfig

RUN = SlimeConfig(model=Qwen3_4B(), dataset=GSM8K(), num_nodes=4, global_batch_size=128, rollout_batch_size=64,
                  n_samples_per_prompt=8, num_rollout=3000)


def test_refused_over_the_bound_before_anything_is_built():
    bound = serve_bound_usd(RUN)
    assert 5 < bound < 20  # one H100 (with its CPU and memory) for two hours
    with pytest.raises(ServeError, match=r"costs at most \$.*max_usd=5 is below"):
        build_serve_app(RUN, max_usd=5)
    with pytest.raises(ServeError):
        build_serve_app(RUN, max_usd=None)


def test_functions_on_the_run_volumes_one_gpu_endpoint_behind_auth():
    serving = build_serve_app(RUN, max_usd=20)
    name = RUN.resolve().name
    assert serving.app.name == f"{name}-serve"
    evaluate, serve = serving.evaluate.info(), serving.serve.info()
    for info in (evaluate, serve):
        assert info.gpus == [("H100", 1)]
        assert {v.name for v in info.volumes.values()} == {"huggingface-cache", f"{name}-data", f"{name}-checkpoints"}
    assert evaluate.timeout == EVAL_TIMEOUT_S and evaluate.web_info is None
    assert serve.web_info is not None and serve.web_info.unauthenticated is False  # Modal proxy auth required
    assert serving.spec["checkpoint_dir"] == f"/checkpoints/{name}"
    assert serving.spec["eval_path"].endswith("test.parquet") and serving.spec["max_tokens"] == 4096
    assert set(serving.spec) == {"name", "model_dir", "checkpoint_dir", "eval_path", "input_key", "label_key",
                                 "max_tokens", "volumes"}  # plain data: no secret travels in the image's env
    json.dumps(serving.spec)
    assert SCALEDOWN_S <= 600 and SPEC_ENV


def test_latest_checkpoint_follows_slime_tracker(tmp_path):
    with pytest.raises(ServeError, match="no checkpoint yet"):
        latest_checkpoint(tmp_path)
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("40\n")
    assert latest_checkpoint(tmp_path) == tmp_path / "iter_0000040"
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("release")
    assert latest_checkpoint(tmp_path) == tmp_path / "release"


def test_the_bound_covers_every_evaluation_the_caller_runs():
    # lesson 06 evaluates twice (base and latest) and serves once: 3 GPU-hours, not 2
    one, two = serve_bound_usd(RUN), serve_bound_usd(RUN, evaluations=2)
    assert two == pytest.approx(one * 3 / 2)
    with pytest.raises(ServeError, match=r"evaluating \(2×\)"):
        build_serve_app(RUN, max_usd=one, evaluations=2)
    assert build_serve_app(RUN, max_usd=two, evaluations=2).bound_usd == pytest.approx(two)
