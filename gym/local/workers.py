"""The two roles of a GRPO run: a Generator (rollouts + rewards) and a Trainer (updates).

Colocated, both live in one process and share one model: they take turns, like slime's
train.py. Not colocated, each is a Ray actor with its own copy of the weights and its own
CPU core(s), like slime's rollout engines and Megatron actors under train_async.py; the
trainer pushes its weights to the generator every `update_weights_interval` rollouts.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from gym.local import grpo
from gym.local.data import Row, load_rows, prompts_for_rollout, render
from gym.local.flags import parse_extra_args
from gym.errors import UserError
from gym.local.rewards import REWARD_TIMEOUT_S, Sample, Scorer
from gym.local.tiny import build_model

LOCAL_MAX_PROMPT_TOKENS = 512
"""Prompt tokens a local run takes when rollout_max_prompt_len is unset: the tiny model's context
(tiny_architecture's max_position_embeddings). slime with no --rollout-max-prompt-len hands every
prompt to SGLang, which refuses one longer than the model's context; locally such rows are
skipped and named like slime's over-long ones, so memory stays bounded (attention is quadratic in
the prompt: a 10 kB prompt alone would ask for about 13 GB)."""


class TrainingError(UserError):
    """Training produced non-finite weights (NaN or inf): named by its rollout."""


@dataclass
class Setup:
    """What both roles need, as plain data (it is sent to Ray actors)."""

    config: object
    """The resolved SlimeConfig."""
    seed: int
    prompt_path: str
    eval_path: str | None
    tokenizer_dir: str
    threads: int
    device: str
    model_dims: dict | None = None
    """Toy model dimensions for build_model (hidden=, layers=); None: tiny_architecture's defaults."""
    sys_path: tuple[str, ...] = ()
    """The caller's sys.path: a Ray actor adds what it lacks, so that a custom reward module the caller
    can import (a notebook's folder, a path it added) imports in the actor too."""
    run_dir: str = ""
    """The run folder: checkpoints are written only inside it (gym.local.folder.inside)."""
    reward_timeout_s: float = REWARD_TIMEOUT_S
    """The most seconds one reward call may take."""


def span(worker: str, phase: str, rollout_id: int, start: float, end: float) -> dict:
    """One bar of the timeline."""
    return {"worker": worker, "phase": phase, "rollout_id": rollout_id, "start": start, "end": end}


def _init(setup: Setup, cpus: set[int] | None = None):
    from transformers import AutoTokenizer

    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
    sys.path.extend(p for p in setup.sys_path if p not in sys.path)
    torch.set_num_threads(setup.threads)
    return AutoTokenizer.from_pretrained(setup.tokenizer_dir)


def loss_settings(config) -> grpo.LossSettings:
    """The config's fields and implemented extra_args flags, as grpo reads them."""
    flags = parse_extra_args(config.extra_args)
    return grpo.LossSettings(
        advantage_estimator=config.advantage_estimator, eps_clip=config.eps_clip, eps_clip_high=config.eps_clip_high,
        eps_clip_c=flags.get("eps_clip_c"), entropy_coef=config.entropy_coef, use_kl_loss=config.use_kl_loss,
        kl_loss_coef=config.kl_loss_coef, kl_loss_type=config.kl_loss_type,
        use_unbiased_kl=bool(flags.get("use_unbiased_kl", False)), kl_coef=config.kl_coef,
        gamma=flags.get("gamma", 1.0), normalize_advantages=config.normalize_advantages,
        calculate_per_token_loss=bool(flags.get("calculate_per_token_loss", False)),
        temperature=config.rollout_temperature, clip_grad=config.clip_grad,
        use_tis=bool(flags.get("use_tis", False) or flags.get("get_mismatch_metrics", False)),
        tis_clip=flags.get("tis_clip", 2.0), tis_clip_low=flags.get("tis_clip_low", 0.0))


def steps_per_rollout(config) -> int:
    samples = config.rollout_batch_size * config.n_samples_per_prompt
    return -(-samples // config.global_batch_size)


def lr_schedule(config) -> grpo.LRSchedule:
    """Megatron's schedule as slime sets it up (get_optimizer_param_scheduler), in optimizer steps."""
    flags = parse_extra_args(config.extra_args)
    train_iters = config.num_rollout * config.rollout_batch_size * config.n_samples_per_prompt // config.global_batch_size
    decay = flags.get("lr_decay_iters") or train_iters
    fraction = flags.get("lr_warmup_fraction")
    warmup = fraction * decay if fraction is not None else config.lr_warmup_iters
    return grpo.LRSchedule(lr=config.lr, min_lr=flags.get("min_lr", 0.0), warmup_init=flags.get("lr_warmup_init", 0.0),
                           warmup_steps=warmup, decay_steps=max(decay, 1), style=config.lr_decay_style,
                           wsd_decay_steps=flags.get("lr_wsd_decay_iters"),
                           wsd_style=flags.get("lr_wsd_decay_style", "exponential"))


def new_model(setup: Setup, tokenizer):
    model = build_model(setup.config.model.architecture, len(tokenizer), setup.seed, tokenizer.pad_token_id,
                        **(setup.model_dims or {}))
    return model.to(setup.device)


class Generator:
    """Samples responses for a rollout's prompts and scores them (slime's rollout manager)."""

    def __init__(self, setup: Setup, model=None, name: str = "rollout", cpus: set[int] | None = None):
        self.setup, self.name = setup, name
        self.tokenizer = _init(setup, cpus)
        c = setup.config
        self.flags = parse_extra_args(c.extra_args)
        metadata_key = self.flags.get("metadata_key", "metadata")
        self.rows = self._encode(load_rows(setup.prompt_path, c.dataset.input_key, c.dataset.label_key, metadata_key))
        self.eval_rows = (self._encode(load_rows(setup.eval_path, c.dataset.input_key, c.dataset.label_key,
                                                 metadata_key)) if setup.eval_path else [])
        self.scorer = Scorer(c, timeout_s=setup.reward_timeout_s)
        self.model = model if model is not None else new_model(setup, self.tokenizer)
        self.model.eval()

    def _encode(self, rows: list[Row]) -> list[tuple[Row, str | list, list[int]]]:
        """(row, the prompt as slime's Sample holds it, its token ids) for each prompt that fits.

        As slime's Dataset (slime/utils/data.py): a prompt of more than rollout_max_prompt_len tokens
        (LOCAL_MAX_PROMPT_TOKENS when unset) is skipped; here the skipped rows are also named once.
        Text longer than the limit × the longest token (in characters) cannot fit and is skipped
        before it is tokenized, so one huge line costs no more memory than its text."""
        c = self.setup.config
        limit = c.rollout_max_prompt_len or LOCAL_MAX_PROMPT_TOKENS
        longest_token = max(len(t) for t in self.tokenizer.get_vocab())
        out, skipped = [], []
        for row in rows:
            text = render(row.prompt, self.tokenizer, c.dataset.apply_chat_template)
            ids = (self.tokenizer(text, add_special_tokens=False).input_ids
                   if len(text) <= limit * longest_token else None)
            # slime's Sample.prompt is the rendered text when it applies the chat template
            prompt = text if c.dataset.apply_chat_template else row.prompt
            if ids is not None and len(ids) <= limit:
                out.append((row, prompt, ids))
            else:
                skipped.append(row)
        if skipped:
            from gym.local.data import DataError

            where = ", ".join(f"line {r.line}" if r.line else f"row {r.index}" for r in skipped[:10])
            more = f" and {len(skipped) - 10} more" if len(skipped) > 10 else ""
            setting = (f"rollout_max_prompt_len={c.rollout_max_prompt_len}" if c.rollout_max_prompt_len else
                       f"{LOCAL_MAX_PROMPT_TOKENS} (the tiny model's context; rollout_max_prompt_len is unset)")
            what = (f"{len(skipped)} of {len(rows)} prompts of {skipped[0].source} are longer than {setting} tokens "
                    f"({where}{more})")
            if not out:
                raise DataError(f"every prompt is too long: {what}")
            print(f"gym local: {what}; they are skipped, as slime skips them", file=sys.stderr)
        return out

    def load_weights(self, flat, rollout_id: int = -1) -> dict:
        """Take the trainer's weights (one flat array: see Trainer.weights); return the timeline span."""
        start = time.time()
        # Ray hands numpy arrays out read-only (zero-copy); vector_to_parameters copies, so no writes.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            flat = torch.from_numpy(flat)
        torch.nn.utils.vector_to_parameters(flat.to(self.setup.device), self.model.parameters())
        return span(self.name, "update_weights", rollout_id, start, time.time())

    def _sample(self, encoded, n: int, rollout_id: int, stream: int, max_new_tokens: int, temperature: float,
                top_p: float):
        """Sample n responses per prompt and wrap them as slime's Samples.

        The response text is decoded as slime decodes it: with special tokens (unless
        --rollout-skip-special-tokens) and with the stop token kept (SGLang's no_stop_trim=True),
        so a reward sees e.g. "4<|im_end|>" or "...</think> \\boxed{4}<|im_end|>"."""
        tok = self.tokenizer
        gen = torch.Generator().manual_seed(self.setup.seed * 1_000_003 + rollout_id * 2 + stream)
        self.model.eval()
        prompt_ids, prompt_mask = grpo.left_pad([e[2] for e in encoded], tok.pad_token_id)
        device = self.setup.device
        responses, response_mask, nucleus, logprobs = grpo.generate(
            self.model, prompt_ids.to(device), prompt_mask.to(device), n, max_new_tokens,
            temperature, top_p, tok.eos_token_id, tok.pad_token_id, gen, details=True)
        responses, response_mask = responses.cpu(), response_mask.cpu()
        skip_special = bool(self.flags.get("rollout_skip_special_tokens", False))
        samples = []
        for i in range(len(responses)):
            row, prompt, ids = encoded[i // n]
            tokens = responses[i][response_mask[i].bool()].tolist()
            finished = bool(tokens) and tokens[-1] == tok.eos_token_id
            samples.append(Sample(group_index=i // n, index=i, prompt=prompt, tokens=ids + tokens,
                                  response=tok.decode(tokens, skip_special_tokens=skip_special),
                                  response_length=len(tokens), label=row.label, metadata=copy.deepcopy(row.metadata),
                                  status=Sample.Status.COMPLETED if finished else Sample.Status.TRUNCATED,
                                  dataset_row=row.index, dataset_line=row.line,
                                  dataset_source=row.source))
        extras = (None if nucleus is None else nucleus.cpu(), logprobs.cpu())
        return prompt_ids, prompt_mask, responses, response_mask, samples, extras

    def rollout(self, rollout_id: int) -> dict:
        """Generate and score rollout `rollout_id`. Returns its tensors, metrics and timeline span."""
        c = self.setup.config
        start = time.time()
        rows = prompts_for_rollout(self.rows, rollout_id, c.rollout_batch_size, self.setup.seed,
                                   c.dataset.rollout_shuffle)
        prompt_ids, prompt_mask, responses, response_mask, samples, (nucleus, logprobs) = self._sample(
            rows, c.n_samples_per_prompt, rollout_id, 0, c.rollout_max_response_len, c.rollout_temperature,
            c.rollout_top_p)
        rewards = torch.tensor(self.scorer(samples, rollout_id), dtype=torch.float)
        scores = grpo.post_process_rewards(
            rewards, c.n_samples_per_prompt, c.advantage_estimator,
            std_normalization=self.flags.get("grpo_std_normalization", True),
            rewards_normalization=self.flags.get("rewards_normalization", True))
        end = time.time()
        grouped = rewards.view(-1, c.n_samples_per_prompt)
        lengths = torch.tensor([s.response_length for s in samples], dtype=torch.float)
        metrics = {
            "rollout/raw_reward": rewards.mean().item(),
            "rollout/response_length": lengths.mean().item(),
            "rollout/truncated": sum(s.status is Sample.Status.TRUNCATED for s in samples) / len(samples),
            "rollout/zero_std_groups": (grouped.std(dim=1) == 0).float().mean().item(),
            "perf/rollout_time": end - start,
            "perf/rollout_tokens_per_sec": lengths.sum().item() / max(end - start, 1e-9),
        }
        examples = [{"prompt": str(s.prompt)[-120:], "response": s.response, "label": s.label, "reward": s.reward}
                    for s in samples[:: c.n_samples_per_prompt][:2]]
        rollout = grpo.Rollout(prompt_ids, prompt_mask, responses, response_mask, rewards, scores, nucleus, logprobs)
        return {"rollout": rollout, "metrics": metrics,
                "examples": examples, "span": span(self.name, "rollout", rollout_id, start, end)}

    def rollout_parts(self, rollout_id: int, after=None) -> tuple[grpo.Rollout, dict]:
        """rollout() as two objects, so that the tensors go straight to the trainer (two Ray
        returns) while the driver reads only the small rest. `after` is unused: passing another
        task's result makes Ray start this one only once that task has finished."""
        out = self.rollout(rollout_id)
        return out.pop("rollout"), out

    def evaluate(self, rollout_id: int, suffix: str = "") -> dict:
        """Mean reward over every eval prompt × n_samples_per_eval_prompt, as slime's eval: responses
        up to eval_max_response_len (default rollout_max_response_len) tokens, sampled with
        --eval-temperature/--eval-top-p (default: the rollout's). Logged as eval/<dataset name>."""
        c = self.setup.config
        start = time.time()
        samples = self._sample(self.eval_rows, c.n_samples_per_eval_prompt, rollout_id, 1,
                               c.eval_max_response_len or c.rollout_max_response_len,
                               self.flags.get("eval_temperature") or c.rollout_temperature,
                               self.flags.get("eval_top_p") or c.rollout_top_p)[4]
        rewards = self.scorer(samples, rollout_id)
        name = c.dataset.eval_prompt_data[0] if c.dataset.eval_prompt_data else "eval"
        return {"metrics": {f"eval/{name}{suffix}": sum(rewards) / len(rewards)},
                "span": span(self.name, "eval", rollout_id, start, time.time())}


class Trainer:
    """Holds the policy, its optimizer and the frozen reference; trains on rollouts (slime's actor)."""

    def __init__(self, setup: Setup, name: str = "train", cpus: set[int] | None = None):
        self.setup, self.name = setup, name
        tokenizer = _init(setup, cpus)
        c = setup.config
        self.model = new_model(setup, tokenizer)
        flags = parse_extra_args(c.extra_args)
        # Megatron's AdamW: no decay on biases and 1-D parameters (the norms' gains)
        self.optimizer = torch.optim.AdamW(grpo.adamw_param_groups(self.model, c.weight_decay), lr=c.lr,
                                           betas=(c.adam_beta1, c.adam_beta2), eps=flags.get("adam_eps", 1e-8))
        self.settings = loss_settings(c)
        self.schedule = lr_schedule(c)
        self.ref_model = None
        if c.use_kl_loss or c.kl_coef != 0:  # slime loads the reference for either
            self.ref_model = new_model(setup, tokenizer)
            self.ref_model.load_state_dict(self.model.state_dict())
            self.ref_model.requires_grad_(False).eval()

    def train(self, rollout: grpo.Rollout, rollout_id: int) -> dict:
        c = self.setup.config
        start = time.time()
        self.model.train()
        rollout = rollout.to(self.setup.device)
        metrics = grpo.train_on_rollout(
            self.model, self.optimizer, rollout, global_batch_size=c.global_batch_size, settings=self.settings,
            ref_model=self.ref_model, schedule=self.schedule, first_step=rollout_id * steps_per_rollout(c))
        self.check_finite(rollout_id)
        end = time.time()
        trained = rollout.response_mask.sum().item() + 0.0
        metrics.update({"perf/train_time": end - start, "perf/train_tokens_per_sec": trained / max(end - start, 1e-9)})
        return {"metrics": metrics, "span": span(self.name, "train", rollout_id, start, end)}

    def train_and_weights(self, rollout: grpo.Rollout, rollout_id: int) -> tuple[dict, object]:
        """train(), then weights(): one task for the split loop's train-then-push steps."""
        return self.train(rollout, rollout_id), self.weights()

    def weights(self):
        """All parameters as one flat numpy array: one object for Ray to move (zero-copy on read),
        instead of a dict of many small tensors."""
        return torch.nn.utils.parameters_to_vector(self.model.parameters()).detach().cpu().numpy()

    def check_finite(self, rollout_id: int) -> None:
        """A TrainingError when a weight is NaN or ±inf (the run stops; no checkpoint holds them)."""
        bad = [name for name, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingError(f"training on rollout {rollout_id} made weights non-finite (NaN or inf) in "
                                f"{len(bad)} tensor(s), e.g. {bad[0]}; the run stops, with no checkpoint saved from "
                                "them (the last checkpoint is kept). Look at that rollout's rewards and at lr, "
                                "clip_grad and the loss coefficients")

    def save(self, tmp: str | Path, state: dict) -> None:
        """Write a whole checkpoint into `tmp` (the driver commits it: gym.local.folder)."""
        from gym.local.folder import inside, remove

        self.check_finite(state["next_rollout_id"] - 1)
        tmp = inside(Path(self.setup.run_dir), tmp)
        remove(Path(self.setup.run_dir), tmp)  # a save of this run that failed halfway
        tmp.mkdir(parents=True)
        torch.save(self.model.state_dict(), tmp / "model.pt")
        torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
        (tmp / "state.json").write_text(json.dumps(state))

    def load(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.model.load_state_dict(torch.load(folder / "model.pt", weights_only=True))
        self.optimizer.load_state_dict(torch.load(folder / "optimizer.pt", weights_only=True))
