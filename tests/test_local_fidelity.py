"""The local backend computes what slime computes (issue 13): no setting ignored silently, the
sampling distribution in training, slime's reward text and math grading, and the small things."""

import json
import math
import textwrap

import pytest
import torch

from gym import ConfigError, LocalDataset
from gym.local import grpo
from gym.local.rewards import Sample, Scorer, builtin_reward, deepscaler_reward, math_reward
from gym.local.runner import run_local
from gym.local.tiny import build_model, build_tokenizer, tiny_config
from gym.models import Qwen3_4B

ONE_STEP = dict(rollout_batch_size=4, n_samples_per_prompt=4, global_batch_size=16, num_rollout=1,
                save_interval=None, eval_interval=None)
"""4 prompts × 4 samples, one optimizer step, one rollout: a run in about a second."""


@pytest.fixture
def tiny(tmp_path):
    def make(**overrides):
        return tiny_config(tmp_path / "data", **{**ONE_STEP, **overrides})
    return make


def run(config, tmp_path, **kwargs):
    return run_local(config, out_dir=tmp_path / "runs", progress=False, **kwargs)


@pytest.fixture
def recorder(tmp_path, monkeypatch):
    """A module with rewards that keep every Sample they see (colocated runs score in-process)."""
    (tmp_path / "fidelity_rewards.py").write_text(textwrap.dedent("""
        SEEN = []

        async def record(args, sample, **kwargs):
            SEEN.append(sample)
            return 1.0 if sample.label is not None and sample.response.startswith(str(sample.label)) else 0.0

        async def as_bool(args, sample, **kwargs):
            SEEN.append(sample)
            return sample.response[:1].isdigit()
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    import importlib

    module = importlib.import_module("fidelity_rewards")
    module.SEEN.clear()
    yield module
    module.SEEN.clear()


# ---- 1. nothing ignored silently -------------------------------------------------------------------

def test_refused_extra_args_are_named_in_one_error_before_anything(tiny, tmp_path):
    config = tiny(extra_args=["--use-opsm", "--ref-update-interval", "2", "--rollout-top-k", "5"])
    with pytest.raises(ConfigError) as err:
        run(config, tmp_path)
    for flag in ("--use-opsm", "--ref-update-interval", "--rollout-top-k"):
        assert flag in str(err.value)
    assert not (tmp_path / "runs").exists()


def test_flags_without_local_meaning_are_listed_once(tiny, tmp_path, capsys):
    history = run(tiny(extra_args=["--log-passrate", "--sglang-enable-metrics"]), tmp_path)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "has no local meaning" in line]
    assert len(lines) == 1 and "--log-passrate" in lines[0] and "--sglang-enable-metrics" in lines[0]
    notes = json.loads((history.run_dir / "run.json").read_text())["notes"]
    assert any("--log-passrate" in n for n in notes)


def test_implemented_flags_are_parsed_with_the_pinned_types():
    from gym.local.flags import parse_extra_args

    flags = parse_extra_args(["--disable-grpo-std-normalization", "--gamma", "0.9", "--calculate-per-token-loss",
                              "--eps-clip-c=3", "--lr-decay-iters", "7", "--use-unbiased-kl"])
    assert flags.values == {"grpo_std_normalization": False, "gamma": 0.9, "calculate_per_token_loss": True,
                            "eps_clip_c": 3.0, "lr_decay_iters": 7, "use_unbiased_kl": True}
    assert not flags.refused and not flags.no_local_meaning


def test_reward_post_processing_per_estimator():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    grpo_adv = grpo.post_process_rewards(rewards, 4, "grpo")
    assert grpo_adv[0] == pytest.approx(0.75 / (0.5 + 1e-6))
    no_std = grpo.post_process_rewards(rewards, 4, "grpo", std_normalization=False)
    assert no_std.tolist() == pytest.approx([0.75, -0.25, -0.25, -0.25, 0.25, 0.25, 0.25, -0.75])
    assert grpo.post_process_rewards(rewards, 4, "grpo", rewards_normalization=False).tolist() == rewards.tolist()
    assert grpo.post_process_rewards(rewards, 4, "reinforce_plus_plus").tolist() == rewards.tolist()  # no centring
    assert grpo.post_process_rewards(rewards, 4, "reinforce_plus_plus_baseline").tolist() == no_std.tolist()
    # a group of one: slime switches the std normalisation off at n=1 (arguments.py), so r − r = 0, no NaN
    assert grpo.post_process_rewards(torch.tensor([1.0, 0.0]), 1, "grpo").tolist() == [0.0, 0.0]


def test_reinforce_plus_plus_returns_and_whitening():
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    settings = grpo.LossSettings(advantage_estimator="reinforce_plus_plus", gamma=0.5)
    adv = grpo.token_advantages(torch.tensor([1.0, 2.0]), mask, settings)
    assert adv.tolist() == [[0.25, 0.5, 1.0, 0.0], [1.0, 2.0, 0.0, 0.0]]  # reward on the last token, discounted
    kl = torch.full((2, 4), 0.1)
    shaped = grpo.token_advantages(torch.tensor([1.0, 2.0]), mask,
                                   grpo.LossSettings(advantage_estimator="reinforce_plus_plus", kl_coef=1.0), kl)
    assert shaped[0].tolist() == pytest.approx([0.7, 0.8, 0.9, 0.0])  # −0.1 per token, summed back from the end
    white = grpo.token_advantages(torch.tensor([1.0, 2.0]), mask,
                                  grpo.LossSettings(advantage_estimator="reinforce_plus_plus", normalize_advantages=True))
    values = white[mask.bool()]
    assert values.mean() == pytest.approx(0.0, abs=1e-6) and values.std() == pytest.approx(1.0, abs=1e-3)
    grpo_kl = grpo.token_advantages(torch.tensor([1.0, 2.0]), mask, grpo.LossSettings(kl_coef=1.0), kl)
    assert grpo_kl.tolist() == [[1, 1, 1, 0], [2, 2, 0, 0]]  # under grpo the KL is dropped


def test_gspo_uses_one_ratio_per_sequence():
    logp = torch.log(torch.tensor([[2.0, 0.5, 1.0]]))
    old, mask = torch.zeros(1, 3), torch.tensor([[1.0, 1.0, 0.0]])
    log_ratio = grpo.sequence_log_ratio(logp, old, mask)
    assert torch.allclose(log_ratio, torch.zeros(1, 3), atol=1e-6)  # mean of log 2 and log 0.5: ratio 1 everywhere
    loss, clipped = grpo.clipped_policy_loss(logp, old, torch.tensor([1.0]), 0.2, 0.28, log_ratio=log_ratio)
    assert loss.tolist()[0] == pytest.approx([-1.0, -1.0, -1.0]) and clipped.sum() == 0
    token_level, token_clipped = grpo.clipped_policy_loss(logp, old, torch.tensor([1.0]), 0.2, 0.28)
    assert token_clipped[0, 0] == 1  # grpo would clip the first token


def test_cispo_keeps_the_gradient_of_clipped_tokens():
    logp = torch.log(torch.tensor([[2.0]])).requires_grad_()
    loss, clipped = grpo.cispo_loss(logp, torch.zeros(1, 1), torch.tensor([1.0]), 0.2, 0.28)
    loss.sum().backward()
    assert clipped.item() == 1 and logp.grad.item() == pytest.approx(-1.28)  # −clip(ratio)·A, through log π
    ppo_logp = logp.detach().clone().requires_grad_()
    grpo.clipped_policy_loss(ppo_logp, torch.zeros(1, 1), torch.tensor([1.0]), 0.2, 0.28)[0].sum().backward()
    assert ppo_logp.grad.item() == 0  # PPO's clip stops it


def test_dual_clip_bounds_negative_advantages():
    logp = torch.log(torch.tensor([[10.0]]))
    loss, _ = grpo.clipped_policy_loss(logp, torch.zeros(1, 1), torch.tensor([-1.0]), 0.2, 0.28, eps_clip_c=3.0)
    assert loss.item() == pytest.approx(3.0)  # not 10


def test_per_token_loss_and_unbiased_kl():
    values, mask = torch.tensor([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]]), torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert grpo.sample_mean(values, mask).item() == pytest.approx(2.5)
    assert grpo.token_mean(values, mask).item() == pytest.approx(7 / 4)
    logp, ref = torch.tensor([-1.0]), torch.tensor([-1.5])
    plain = grpo.kl_to_reference(logp, ref, "k3")
    assert grpo.kl_to_reference(logp, ref, "k3", importance_ratio=torch.tensor([2.0])) == pytest.approx(2 * plain)


def _tiny_rollout(temperature=1.0, top_p=1.0):
    tok = build_tokenizer(["What is 3 + 4?", "user\n", "assistant\n", "0123456789"])
    model = build_model(Qwen3_4B().architecture, len(tok), 0, tok.pad_token_id)
    prompt = tok(tok.apply_chat_template([{"role": "user", "content": "What is 3 + 4?"}], tokenize=False,
                                         add_generation_prompt=True), add_special_tokens=False).input_ids
    ids, mask = grpo.left_pad([prompt, prompt[2:]], tok.pad_token_id)
    responses, rmask, nucleus, sampled = grpo.generate(model, ids, mask, 4, 6, temperature, top_p, tok.eos_token_id,
                                                       tok.pad_token_id, torch.Generator().manual_seed(0),
                                                       details=True)
    return model, grpo.Rollout(ids, mask, responses, rmask, torch.zeros(8), torch.zeros(8), nucleus, sampled)


def test_tis_weights_the_loss_by_the_clamped_rollout_ratio():
    model, rollout = _tiny_rollout()
    rollout.advantages = torch.ones(8)
    rollout.rollout_logprobs = rollout.rollout_logprobs - math.log(4)  # the rollout engine was 4× less sure
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)
    plain = grpo.train_on_rollout(model, frozen, rollout, global_batch_size=8, settings=grpo.LossSettings())
    tis = grpo.train_on_rollout(model, frozen, rollout, global_batch_size=8, settings=grpo.LossSettings(use_tis=True))
    assert tis["train/tis"] == pytest.approx(4.0, rel=1e-3) and tis["train/tis_clipfrac"] == 1.0
    assert plain["train/pg_loss"] == pytest.approx(-1.0)  # ratio 1, advantage 1
    assert tis["train/pg_loss"] == pytest.approx(-2.0, rel=1e-4)  # weighted by 4, clamped to tis_clip=2


def test_lr_schedule_is_megatrons():
    linear = grpo.LRSchedule(lr=1.0, warmup_steps=2, decay_steps=6, style="linear")
    assert [linear.lr_at(k) for k in range(8)] == pytest.approx([0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0])
    cosine = grpo.LRSchedule(lr=1.0, min_lr=0.1, decay_steps=4, style="cosine")
    assert cosine.lr_at(2) == pytest.approx(0.55)
    assert grpo.LRSchedule(lr=1.0, warmup_steps=3, decay_steps=9, style="constant").lr_at(1) == pytest.approx(1 / 3)
    wsd = grpo.LRSchedule(lr=1.0, decay_steps=10, style="WSD", wsd_decay_steps=2, wsd_style="linear")
    assert [wsd.lr_at(k) for k in (8, 9, 10)] == pytest.approx([1.0, 0.5, 0.0])


def test_run_follows_the_lr_schedule(tiny, tmp_path):
    """lr_warmup_iters and lr_decay_style reach the optimizer: 3 rollouts × 2 steps, linear decay over 6."""
    history = run(tiny(global_batch_size=8, num_rollout=3, lr=1e-3, lr_warmup_iters=2, lr_decay_style="linear"),
                  tmp_path)
    # steps 0..5 run at 0, 0.5, 1, 0.75, 0.5, 0.25 × lr; each row is the mean of its two steps
    assert history.metric("train/lr") == pytest.approx([0.25e-3, 0.875e-3, 0.375e-3])


# ---- 2. training sees the sampling distribution ---------------------------------------------------

@pytest.mark.parametrize("temperature,top_p", [(0.6, 1.0), (1.0, 0.7), (1.5, 0.8)])
def test_training_logprobs_equal_the_sampling_distribution(temperature, top_p):
    model, rollout = _tiny_rollout(temperature, top_p)
    ids, mask, responses, rmask = rollout.prompt_ids, rollout.prompt_mask, rollout.responses, rollout.response_mask
    nucleus, sampled = rollout.nucleus, rollout.rollout_logprobs
    assert (nucleus is None) == (top_p == 1.0)
    with torch.no_grad():
        trained, _ = grpo.response_logprobs(model, rollout, slice(0, 8), temperature=temperature)
        untempered, _ = grpo.response_logprobs(model, grpo.Rollout(ids, mask, responses, rmask, torch.zeros(8),
                                                                   torch.zeros(8)), slice(0, 8))
    live = rmask.bool()
    ratio = (trained - sampled)[live].exp()
    assert torch.allclose(ratio, torch.ones_like(ratio), atol=1e-4)  # ratio 1: the same distribution
    assert (untempered - sampled)[live].abs().max() > 1e-2  # what training on raw logits would have seen


def test_first_step_ratio_is_one_in_a_run(tiny, tmp_path):
    history = run(tiny(rollout_temperature=0.7, rollout_top_p=0.8, rollout_max_response_len=4), tmp_path)
    row = history.rows[0]
    assert row["train/train_rollout_logprob_abs_diff"] < 1e-4
    assert row["train/pg_clipfrac"] == 0 and abs(row["train/ppo_kl"]) < 1e-6


# ---- 3. the reward sees slime's text ----------------------------------------------------------------

def _rows_with_metadata(path, n=8):
    rows = [{"messages": [{"role": "user", "content": f"What is {i % 5} + 1?"}], "label": str(i % 5 + 1),
             "metadata": {"source": "unit", "id": i, **({"extra": True} if i == 0 else {})}} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_reward_sees_special_tokens_rendered_prompt_and_metadata(recorder, tiny, tmp_path):
    data = _rows_with_metadata(tmp_path / "meta.jsonl")
    config = tiny(dataset=LocalDataset(data, input_key="messages", label_key="label"),
                  custom_rm_path="fidelity_rewards.record", rollout_max_response_len=6)
    run(config, tmp_path, seed=1)
    seen = recorder.SEEN
    assert len(seen) == 16
    finished = [s for s in seen if s.status is Sample.Status.COMPLETED]
    assert finished and all(s.response.endswith("<|im_end|>") for s in finished)  # no_stop_trim, specials kept
    assert all(s.prompt.startswith("<|im_start|>user\n") and s.prompt.endswith("<|im_start|>assistant\n")
               for s in seen)  # slime's Sample.prompt is the rendered chat text
    by_id = {s.metadata["id"]: s.metadata for s in seen}
    assert all(m["source"] == "unit" for m in by_id.values())
    assert all(("extra" in m) == (i == 0) for i, m in by_id.items())  # each row's own keys, nothing added


def test_skip_special_tokens_flag(recorder, tiny, tmp_path):
    config = tiny(custom_rm_path="fidelity_rewards.record", rollout_max_response_len=6,
                  extra_args=["--rollout-skip-special-tokens"])
    run(config, tmp_path, seed=1)
    assert not any("<|im_end|>" in s.response for s in recorder.SEEN)


def test_deepscaler_scores_a_thinking_response():
    assert builtin_reward("deepscaler")("<think>3 + 4</think>The answer is \\boxed{7}.<|im_end|>", "7") == 1


# ---- 4. math graded as slime grades it --------------------------------------------------------------

MATH_TABLE = [
    # (response, label, slime's rm_type="math" score): each read off slime's math_utils.grade_answer_verl
    ("\\boxed{\\$18}", "18", 1),  # mathd: "\\$" removed
    ("\\boxed{50\\%}", "50", 1),  # mathd: "\\%" removed
    ("\\boxed{x=5}", "5", 1),  # mathd: a short left side of "=" dropped
    ("\\boxed{\\text{5 cm}}", "5", 1),  # sympy side: \\text{} unwrapped, unit "cm" removed
    ("\\boxed{5 \\text{ hours}}", "5", 1),  # mathd: a unit after "\\text{ " removed
    ("\\boxed{\\$1,250.00}", "1250", 1),  # sympy side: $, thousands comma, 1250.00 is an integer
    ("\\boxed{\\frac12}", "0.5", 1),  # mathd: \\frac12 -> \\frac{1}{2}, 0.5 -> \\frac{1}{2}
    ("\\boxed{\\dfrac{3}{4}}", "3/4", 1),  # mathd: dfrac -> frac, 3/4 -> \\frac{3}{4}
    ("\\boxed{6/8}", "3/4", 0),  # fractions must be written alike (no simplifying)
    ("\\boxed{3.5}", "7/2", 1),  # sympy: 7/2 − 3.5 = 0
    ("\\boxed{7\\frac{3}{4}}", "31/4", 1),  # a mixed number
    ("\\boxed{2\\sqrt{2}}", "\\sqrt{8}", 1),  # pylatexenc to text, sympy simplifies
    ("\\boxed{\\pi}", "3.14159", 0),
    ("\\boxed{2x+1}", "1+2x", 1),
    ("\\boxed{90^\\circ}", "90", 1),
    ("\\boxed{10.0}", "10", 1),
    ("\\boxed{1,000}", "1000", 1),
    ("\\boxed{ABC}", "abc", 1),  # case does not count
    ("\\boxed{(1,2)}", "(1, 2)", 1),
    ("\\boxed{[1,2]}", "(1,2)", 0),  # an interval's brackets count
    ("\\boxed{18 dollars}", "18", 0),  # "dollars" is not one of the units
    ("\\boxed{2 million}", "2000000", 0),  # an integer label needs an integer answer
    ("\\boxed{12}<|im_end|>", "12", 1),  # the stop token after the box does not matter
    ("\\boxed{12<|im_end|>", "12", 0),
    ("\\fbox{7}", "7", 0),  # only \\boxed{...}
    ("\\boxed 7", "7", 0),
    ("The answer is 18", "18", 0),  # no box, no score
    ("\\boxed{18}", "\\boxed{18}", 1),  # a boxed label is unboxed
    ("\\boxed{5}", 5, 1),  # a numeric label
    ("\\boxed{0}", 0, 0),  # slime: `if not ground_truth` -> a label of 0 never scores
]


@pytest.mark.parametrize("response,label,slime_score", MATH_TABLE)
def test_math_reward_matches_slime(response, label, slime_score):
    assert math_reward(response, label) == slime_score
    assert builtin_reward("math")(response, label) == slime_score


def test_deepscaler_and_boxed_follow_slime():
    assert deepscaler_reward("<think>..</think> \\boxed{\\$18}", "18") == 1
    assert deepscaler_reward("\\boxed{18}", "18") == 0  # only after </think>
    assert deepscaler_reward("<think>..</think> \\boxed{0}", 0) == 1  # deepscaler has no `not label` check
    # boxed_math: slime replaces the response by its boxed content, which then has no \\boxed: 0
    assert builtin_reward("boxed_math")("\\boxed{4}", "4") == 0


def test_row_rm_type_overrides_the_config(tiny):
    scorer = Scorer(tiny(rm_type="math", custom_rm_path=None))
    # the same response: math scores it, deepscaler (no </think>) does not
    by_row = Sample(index=0, response="\\boxed{3}", label="3", metadata={"rm_type": "deepscaler"})
    plain = Sample(index=1, response="\\boxed{3}", label="3")
    assert scorer([by_row, plain], 0) == [0.0, 1.0]


# ---- 5. the smaller differences ---------------------------------------------------------------------

def test_adamw_skips_decay_on_biases_and_norm_gains(tiny, tmp_path):
    from gym.local.workers import Setup, Trainer

    tok_dir = tmp_path / "tok"
    build_tokenizer(["0123456789", "user\n", "assistant\n"]).save_pretrained(tok_dir)
    setup = Setup(config=tiny().resolve().config, seed=0, prompt_path="", eval_path=None,
                  tokenizer_dir=str(tok_dir), threads=1, device="cpu")
    optimizer = Trainer(setup).optimizer
    decay = {id(p) for g in optimizer.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    params = [p for g in optimizer.param_groups for p in g["params"]]
    assert params and all((id(p) in decay) == (p.dim() >= 2) for p in params)


def test_kl_coef_under_grpo_has_no_effect(tiny, tmp_path, capsys):
    plain = run(tiny(name="plain"), tmp_path)
    shaped = run(tiny(name="shaped", kl_coef=0.5, ref_load="Qwen/Qwen3-4B"), tmp_path)
    assert "kl_coef=0.5 has no effect with advantage_estimator='grpo'" in capsys.readouterr().err
    assert shaped.metric("train/loss") == pytest.approx(plain.metric("train/loss"))


def test_group_of_one_message_says_advantages_are_zero(tiny, tmp_path):
    with pytest.raises(ConfigError, match="every advantage is 0"):
        run(tiny(n_samples_per_prompt=1, global_batch_size=4), tmp_path)


def test_group_of_one_gives_zero_advantages_as_slime():
    """slime switches the std normalisation off at n=1: (r − r) = 0, not 0/0 = NaN."""
    assert grpo.post_process_rewards(torch.tensor([1.0, 0.0, 3.0]), 1).tolist() == [0.0, 0.0, 0.0]


def test_eval_runs_before_training_on_every_prompt_with_eval_length(recorder, tiny, tmp_path):
    data = tmp_path / "eval.jsonl"
    data.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Eval {i % 5} + 0?"}],
                                        "label": str(i % 5)}) + "\n" for i in range(70)))
    train = tmp_path / "data" / "tiny_sums_train.jsonl"
    tiny_config(tmp_path / "data")  # writes the train file
    config = tiny(dataset=LocalDataset(train, input_key="messages", label_key="label", eval_source=data,
                                       name="sums"),
                  custom_rm_path="fidelity_rewards.record", num_rollout=2, eval_interval=2,
                  n_samples_per_eval_prompt=2, eval_max_response_len=1, rollout_max_response_len=3)
    history = run(config, tmp_path)
    eval_keys = [sorted(k for k in row if k.startswith("eval/")) for row in history.rows]
    name = config.resolve().config.dataset.eval_prompt_data[0]
    assert eval_keys == [[f"eval/{name}/before_train"], [f"eval/{name}"]]
    eval_samples = [s for s in recorder.SEEN if "Eval" in s.prompt]
    assert len(eval_samples) == 2 * 70 * 2  # every prompt (not 64), twice each, two evals
    assert all(s.response_length <= 1 for s in eval_samples)  # eval_max_response_len
    phases = [s["phase"] for s in history.timeline if s["rollout_id"] == 0]
    assert phases[0] == "eval"  # before the first rollout


def test_bool_rewards_are_accepted(recorder, tiny, tmp_path):
    history = run(tiny(custom_rm_path="fidelity_rewards.as_bool", eval_interval=None), tmp_path)
    rewards = [s.reward for s in recorder.SEEN[-16:]]  # the rollout's (after the eval before training)
    assert {type(r) for r in rewards} == {bool}  # sample.reward keeps what the function returned
    assert history.rows[0]["rollout/raw_reward"] == pytest.approx(sum(rewards) / len(rewards))
    assert not math.isnan(history.rows[0]["train/loss"])
