"""GRPO and its relatives, one readable function per step: sample → advantages → loss → update.

Semantics are slime's (slime/backends/megatron_utils/loss.py, slime/utils/ppo_utils.py,
slime/ray/rollout.py at the pinned commit a74ae3a0):

- a rollout is `rollout_batch_size` prompts × `n_samples_per_prompt` samples;
- rewards are post-processed by the rollout side: for grpo, gspo and cispo each sample's reward
  minus its group's mean, divided by the group's (unbiased) std + 1e-6; reinforce_plus_plus_baseline
  only subtracts the group mean; reinforce_plus_plus keeps the raw reward
  (`--disable-grpo-std-normalization` drops the division, `--disable-rewards-normalization` all of it);
- advantages, per token: grpo/gspo/cispo the sample's post-processed reward on every token;
  reinforce_plus_plus the discounted return of −kl_coef·KL per token plus the reward on the last
  token (`--gamma`); reinforce_plus_plus_baseline the reward minus kl_coef·KL per token; then,
  with `normalize_advantages`, whitened over every response token of the rollout;
- the policy loss is PPO's clipped objective with `eps_clip` below and `eps_clip_high` above
  (optionally dual-clipped with `--eps-clip-c`); gspo uses one ratio per sequence (exp of the mean
  token log-ratio); cispo clips the ratio under stop-gradient and weights log π by it;
- losses are averaged within each sample and then over samples ("sum of sample means"), or over
  all tokens of the step with `--calculate-per-token-loss`;
- log-probs, the entropy and the reference pass use logits divided by `rollout_temperature`; with
  `rollout_top_p` < 1 log-probs are renormalised over the nucleus each token was sampled from (the
  entropy is not), so training sees the distribution the rollout sampled from: on the first step
  the ratio new/old is exactly 1;
- old log-probs are the trainer's, taken before the rollout's first optimizer step;
- optional KL to a frozen reference (`k1`, `k2`, `k3`/`low_var_kl`, `--use-unbiased-kl`) and an
  entropy bonus;
- `global_batch_size` samples per optimizer step, so samples per rollout / global batch steps;
  the learning rate follows Megatron's schedule (`lr_warmup_iters`, `lr_decay_style`, see lr_at).

One implementation choice is ours: the n samples of a prompt share its prefix. The prompt
is run once (in generation and in training), and its key/value cache is repeated for the
samples, so a step costs prompts + responses, not samples × (prompt + response).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GROUP_NORMALISED = ("grpo", "gspo", "cispo")
"""Estimators whose rewards slime divides by the group's std (unless --disable-grpo-std-normalization)."""


@dataclass
class Rollout:
    """A rollout as tensors. Prompts are left-padded, one row per prompt; responses are
    right-padded, one row per sample, prompt-major (sample i belongs to prompt i // n)."""

    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    responses: torch.Tensor
    response_mask: torch.Tensor
    """1 on generated tokens (up to and including EOS), 0 on padding."""
    rewards: torch.Tensor
    """The raw reward of each sample."""
    advantages: torch.Tensor
    """slime's post-processed reward of each sample (see post_process_rewards); the trainer turns it
    into per-token advantages (token_advantages)."""
    nucleus: torch.Tensor | None = None
    """With top-p < 1: [samples, response tokens, vocab] booleans, the tokens each response token
    was sampled among (slime's rollout_top_p_token_ids); None with top-p = 1."""
    rollout_logprobs: torch.Tensor | None = None
    """Log-probability of each response token under the distribution it was sampled from (what
    SGLang returns to slime as rollout_log_probs); only compared with the trainer's, as slime logs."""

    @property
    def n(self) -> int:
        return len(self.responses) // len(self.prompt_ids)

    def to(self, device) -> Rollout:
        return Rollout(*(t.to(device) if t is not None else None
                         for t in (self.prompt_ids, self.prompt_mask, self.responses, self.response_mask,
                                   self.rewards, self.advantages, self.nucleus, self.rollout_logprobs)))


@dataclass(frozen=True)
class LossSettings:
    """What shapes advantages and the loss, under slime's names (defaults: slime's)."""

    advantage_estimator: str = "grpo"
    eps_clip: float = 0.2
    eps_clip_high: float = 0.28
    eps_clip_c: float | None = None
    """Dual-clip PPO bound (> 1) for negative advantages (--eps-clip-c); None: off."""
    entropy_coef: float = 0.0
    use_kl_loss: bool = False
    kl_loss_coef: float = 0.0
    kl_loss_type: str = "low_var_kl"
    use_unbiased_kl: bool = False
    """Weight the KL loss by the ratio new/old (--use-unbiased-kl)."""
    kl_coef: float = 0.0
    """KL in the reward: only reinforce_plus_plus(_baseline) use it (slime computes and drops it for grpo)."""
    gamma: float = 1.0
    """Discount of reinforce_plus_plus returns (--gamma)."""
    normalize_advantages: bool = False
    calculate_per_token_loss: bool = False
    """Average losses over all tokens of a step instead of per sample then over samples."""
    temperature: float = 1.0
    """rollout_temperature: logits are divided by it before log-probs, entropy and the reference pass."""
    clip_grad: float = 1.0
    use_tis: bool = False
    """Truncated importance sampling (--use-tis, or --get-mismatch-metrics which applies it too): the
    policy loss per token × clamp(exp(old − rollout log-prob), tis_clip_low, tis_clip)."""
    tis_clip: float = 2.0
    tis_clip_low: float = 0.0


def left_pad(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    return ids, mask


def _positions(attention_mask: torch.Tensor) -> torch.Tensor:
    return (attention_mask.cumsum(-1) - 1).clamp(min=0)


def _prefill(model, prompt_ids, prompt_mask, rows: torch.Tensor):
    """Run each prompt once; return the logits after it and a KV cache repeated for `rows`
    (rows[i] = the prompt of sample i)."""
    out = model(input_ids=prompt_ids, attention_mask=prompt_mask, position_ids=_positions(prompt_mask),
                use_cache=True)
    out.cache.reorder_cache(rows)
    return out.logits[:, -1][rows], out.cache


def nucleus_mask(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """The top-p nucleus: the most probable tokens whose probability before them is < top_p
    (so the token that crosses top_p is kept), as SGLang keeps them."""
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    keep_sorted = sorted_probs.cumsum(-1) - sorted_probs < top_p
    return torch.zeros_like(keep_sorted).scatter(-1, order, keep_sorted)


def _sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator):
    """One token per row, its log-probability under the distribution it was drawn from, and that
    distribution's nucleus (None with top_p = 1)."""
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    keep = None
    if top_p < 1.0:
        keep = nucleus_mask(probs, top_p)
        probs = probs * keep
        probs = probs / probs.sum(-1, keepdim=True)
    token = torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)
    return token, probs.gather(-1, token[:, None]).squeeze(-1).log(), keep


@torch.no_grad()
def generate(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, n: int, max_new_tokens: int,
             temperature: float, top_p: float, eos_id: int, pad_id: int, generator: torch.Generator,
             details: bool = False):
    """Sample `n` responses per prompt. Returns (responses, response_mask), one row per sample;
    with details also (nucleus of every step or None with top_p = 1, sampling log-probs)."""
    rows = torch.arange(len(prompt_ids), device=prompt_ids.device).repeat_interleave(n)
    logits, cache = _prefill(model, prompt_ids, prompt_mask, rows)
    mask = prompt_mask[rows]
    done = torch.zeros(len(rows), dtype=torch.bool, device=prompt_ids.device)
    tokens, live, nuclei, logps = [], [], [], []
    for step in range(max_new_tokens):
        token, logp, keep = _sample_next(logits, temperature, top_p, generator)
        token = torch.where(done, torch.full_like(token, pad_id), token)
        tokens.append(token)
        logps.append(torch.where(done, torch.zeros_like(logp), logp))
        live.append((~done).long())
        if keep is not None:
            nuclei.append(keep)
        done = done | (token == eos_id)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(token)[:, None]], dim=1)
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=_positions(mask)[:, -1:],
                    cache=cache, use_cache=True)
        logits, cache = out.logits[:, -1], out.cache
    responses, response_mask = torch.stack(tokens, dim=1), torch.stack(live, dim=1)
    if details:
        return responses, response_mask, torch.stack(nuclei, dim=1) if nuclei else None, torch.stack(logps, dim=1)
    return responses, response_mask


def post_process_rewards(rewards: torch.Tensor, n: int, estimator: str = "grpo", std_normalization: bool = True,
                         rewards_normalization: bool = True) -> torch.Tensor:
    """slime's RolloutManager._post_process_rewards: the per-sample value training starts from.

    grpo, gspo, cispo: (reward − group mean) / (group std + 1e-6), the std with Bessel's correction,
    except for groups of one: slime turns the std normalisation off when n_samples_per_prompt == 1
    (slime/utils/arguments.py), so every advantage is 0; reinforce_plus_plus_baseline: reward − group
    mean; reinforce_plus_plus: the raw reward. `std_normalization=False`
    (--disable-grpo-std-normalization) skips the division, `rewards_normalization=False`
    (--disable-rewards-normalization) the whole step."""
    rewards = rewards.float()
    if not rewards_normalization or estimator not in (*GROUP_NORMALISED, "reinforce_plus_plus_baseline"):
        return rewards.clone()
    grouped = rewards.view(-1, n)
    centered = grouped - grouped.mean(dim=1, keepdim=True)
    if estimator in GROUP_NORMALISED and std_normalization and n > 1:
        centered = centered / (centered.std(dim=1, keepdim=True) + 1e-6)
    return centered.reshape(-1)


def group_advantages(rewards: torch.Tensor, n: int, std_normalize: bool = True) -> torch.Tensor:
    """(reward − group mean) / (group std + 1e-6), per group of n samples of one prompt (GRPO)."""
    return post_process_rewards(rewards, n, "grpo", std_normalization=std_normalize)


def token_advantages(scores: torch.Tensor, mask: torch.Tensor, s: LossSettings,
                     kl: torch.Tensor | None = None) -> torch.Tensor:
    """slime's compute_advantages_and_returns for one rollout: [samples, tokens] advantages.

    scores: post_process_rewards' output per sample; mask: response tokens; kl: per-token KL of
    the old policy to the reference (only used with kl_coef ≠ 0 by reinforce_plus_plus(_baseline))."""
    mask = mask.float()
    kl = torch.zeros_like(mask) if kl is None or s.kl_coef == 0 else kl * mask
    if s.advantage_estimator in GROUP_NORMALISED:
        adv = scores[:, None] * torch.ones_like(mask)  # the KL is computed and dropped (get_grpo_returns)
    elif s.advantage_estimator == "reinforce_plus_plus":
        token_rewards = -s.kl_coef * kl
        last = (mask.cumsum(-1) == mask.sum(-1, keepdim=True)) & (mask > 0)
        token_rewards = token_rewards + last.float() * scores[:, None]
        adv = torch.zeros_like(token_rewards)
        running = torch.zeros(len(mask))
        for t in reversed(range(mask.shape[1])):  # G_t = r_t + gamma * G_{t+1}
            running = token_rewards[:, t] + s.gamma * running
            adv[:, t] = running
    elif s.advantage_estimator == "reinforce_plus_plus_baseline":
        adv = scores[:, None] - s.kl_coef * kl
    else:
        raise ValueError(f"advantage_estimator={s.advantage_estimator!r} has no local implementation")
    if s.normalize_advantages:
        adv = masked_whiten(adv, mask)
    return adv * mask


def masked_whiten(values: torch.Tensor, mask: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """(x − mean) / sqrt(var + eps) over the masked entries, var with Bessel's correction
    (slime's distributed_masked_whiten over the whole rollout)."""
    count = mask.sum()
    mean = (values * mask).sum() / count
    var = (values ** 2 * mask).sum() / count - mean ** 2
    if count >= 2:
        var = var * count / (count - 1)
    return (values - mean) * torch.rsqrt(var + eps)


def response_logprobs(model, rollout: Rollout, samples: slice, with_entropy: bool = False,
                      temperature: float = 1.0):
    """Log-probability of each response token of `samples` (and each step's entropy), from the
    logits divided by `temperature`; renormalised over the rollout's nucleus when it has one.

    The prompts of those samples run once, with gradients; their cache is shared by the samples."""
    n = rollout.n
    first, last = samples.start // n, (samples.stop - 1) // n
    rows = torch.arange(samples.start, samples.stop, device=rollout.responses.device) // n - first
    prompt_ids, prompt_mask = rollout.prompt_ids[first:last + 1], rollout.prompt_mask[first:last + 1]
    first_logits, cache = _prefill(model, prompt_ids, prompt_mask, rows)
    responses, response_mask = rollout.responses[samples], rollout.response_mask[samples]
    mask = torch.cat([prompt_mask[rows], response_mask], dim=1)
    out = model(input_ids=responses, attention_mask=mask, position_ids=_positions(mask)[:, -responses.shape[1]:],
                cache=cache, use_cache=True)
    logits = torch.cat([first_logits[:, None], out.logits[:, :-1]], dim=1).float()
    if temperature != 1.0:
        logits = logits / temperature
    logp_all = F.log_softmax(logits, dim=-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else None  # never restricted to the nucleus
    if rollout.nucleus is not None:
        keep = rollout.nucleus[samples].clone()
        keep.scatter_(-1, responses[..., None], True)  # the sampled token (padding rows: anything finite)
        logp_all = F.log_softmax(logits.masked_fill(~keep, float("-inf")), dim=-1)
    logp = logp_all.gather(-1, responses[..., None]).squeeze(-1)
    return logp, entropy


def sample_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each sample's masked tokens, then over samples (slime's sum_of_sample_mean / B)."""
    per_sample = (values * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return per_sample.mean()


def token_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over all masked tokens of the step (slime with --calculate-per-token-loss)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def clipped_policy_loss(logp, old_logp, advantages, eps_clip: float, eps_clip_high: float,
                        eps_clip_c: float | None = None, log_ratio: torch.Tensor | None = None):
    """PPO's clipped surrogate per token. Returns (loss per token, clipped-or-not per token).

    advantages: per sample [B] or per token [B, T]. log_ratio: log new/old per token (default
    logp − old_logp; gspo passes its per-sequence value). eps_clip_c: dual clip for negative advantages."""
    ratio = (logp - old_logp if log_ratio is None else log_ratio).exp()
    adv = advantages[:, None] if advantages.dim() == 1 else advantages
    unclipped = -ratio * adv
    clipped = -ratio.clamp(1 - eps_clip, 1 + eps_clip_high) * adv
    loss = torch.maximum(unclipped, clipped)
    if eps_clip_c is not None:
        loss = torch.where(adv < 0, torch.minimum(-eps_clip_c * adv, loss), loss)
    return loss, (clipped > unclipped).float()


def sequence_log_ratio(logp, old_logp, mask) -> torch.Tensor:
    """GSPO: each sample's mean token log-ratio new/old, on every token of the sample."""
    per_sample = ((logp - old_logp) * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return per_sample[:, None].expand_as(logp)


def cispo_loss(logp, old_logp, advantages, eps_clip: float, eps_clip_high: float):
    """CISPO: −sg(clip(ratio)) · advantage · log π per token; gradients flow through log π only,
    so clipped tokens still contribute. Returns (loss per token, clipped-or-not per token)."""
    ratio = (logp - old_logp).exp()
    truncated = ratio.clamp(1 - eps_clip, 1 + eps_clip_high)
    adv = advantages[:, None] if advantages.dim() == 1 else advantages
    return -truncated.detach() * adv * logp, (truncated != ratio).float()


def kl_to_reference(logp, ref_logp, kind: str, importance_ratio: torch.Tensor | None = None) -> torch.Tensor:
    """Per-token KL estimate between the policy and the reference (Schulman's k1/k2/k3); with
    importance_ratio (new/old, --use-unbiased-kl) weighted by it; low_var_kl clamped to ±10 last."""
    log_ratio = logp - ref_logp
    if kind == "k1":
        kl = log_ratio
    elif kind == "k2":
        kl = log_ratio ** 2 / 2
    else:
        kl = (-log_ratio).exp() - 1 + log_ratio  # k3 / low_var_kl: unbiased, non-negative
    if importance_ratio is not None:
        kl = importance_ratio * kl
    return kl.clamp(-10, 10) if kind == "low_var_kl" else kl


@dataclass(frozen=True)
class LRSchedule:
    """Megatron's OptimizerParamScheduler as slime configures it, in optimizer steps (slime counts
    samples, global_batch_size per step; the ratios are the same)."""

    lr: float
    min_lr: float = 0.0
    warmup_init: float = 0.0
    warmup_steps: float = 0
    decay_steps: float = 1
    """lr_decay_iters; slime's default: num_rollout × samples per rollout / global_batch_size."""
    style: str = "constant"
    wsd_decay_steps: float | None = None
    wsd_style: str = "exponential"

    def lr_at(self, step: int) -> float:
        """The learning rate of optimizer step `step` (0-based): Megatron sets it before the first
        step (num_steps = 0, so with warm-up the first step runs at warmup_init) and after each."""
        if self.warmup_steps > 0 and step <= self.warmup_steps:
            return self.warmup_init + (self.lr - self.warmup_init) * step / self.warmup_steps
        if self.style == "constant":
            return self.lr
        if step > self.decay_steps:
            return self.min_lr
        if self.style == "inverse-square-root":
            return max(self.min_lr, self.lr * max(self.warmup_steps, 1) ** 0.5 / max(step, 1) ** 0.5)
        ratio = (step - self.warmup_steps) / (self.decay_steps - self.warmup_steps)
        if self.style == "linear":
            coeff = 1.0 - ratio
        elif self.style == "cosine":
            coeff = 0.5 * (math.cos(math.pi * ratio) + 1.0)
        elif self.style == "WSD":
            anneal_start = self.decay_steps - self.wsd_decay_steps
            if step <= anneal_start:
                coeff = 1.0
            else:
                r = (step - anneal_start) / self.wsd_decay_steps
                coeff = {"linear": 1.0 - r, "cosine": 0.5 * (math.cos(math.pi * r) + 1.0),
                         "exponential": 2.0 * 0.5 ** r - 1.0, "minus_sqrt": 1.0 - math.sqrt(r)}[self.wsd_style]
        else:
            raise ValueError(f"lr_decay_style={self.style!r} is not one of Megatron's")
        return self.min_lr + coeff * (self.lr - self.min_lr)


def adamw_param_groups(model, weight_decay: float) -> list[dict]:
    """Megatron's split: no weight decay on biases and 1-D parameters (norm gains), decay on the rest."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.dim() < 2 or name.endswith(".bias") else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def train_on_rollout(model, optimizer, rollout: Rollout, *, global_batch_size: int, settings: LossSettings,
                     ref_model=None, schedule: LRSchedule | None = None, first_step: int = 0) -> dict[str, float]:
    """Optimizer steps over one rollout, `global_batch_size` samples each. Returns mean metrics.

    schedule/first_step: the learning rate of each step is schedule.lr_at(first_step + k)."""
    s = settings
    total = len(rollout.responses)
    steps = [slice(i, min(i + global_batch_size, total)) for i in range(0, total, global_batch_size)]
    mask_all = rollout.response_mask.float()
    with torch.no_grad():  # old log-probs come from before the first step; step one gets its own for free
        logp_of = lambda m, sl: response_logprobs(m, rollout, sl, temperature=s.temperature)[0]  # noqa: E731
        need_old_all = s.kl_coef != 0 and s.advantage_estimator.startswith("reinforce_plus_plus")
        old_steps = [logp_of(model, sl) for sl in (steps if need_old_all else steps[1:])]
        old_later = old_steps[1:] if need_old_all else old_steps
        ref = [logp_of(ref_model, sl) for sl in steps] if ref_model is not None else None
        kl = None
        if need_old_all and ref is not None:
            kl = torch.cat([kl_to_reference(o, r, s.kl_loss_type) for o, r in zip(old_steps, ref)])
        advantages = token_advantages(rollout.advantages, mask_all, s, kl)

    reduce = token_mean if s.calculate_per_token_loss else sample_mean
    totals: dict[str, float] = {}
    for k, samples in enumerate(steps):
        logp, entropy = response_logprobs(model, rollout, samples, with_entropy=True, temperature=s.temperature)
        old = logp.detach() if k == 0 else old_later[k - 1]
        mask, adv = mask_all[samples], advantages[samples]
        if s.advantage_estimator == "cispo":
            pg, clipped = cispo_loss(logp, old, adv, s.eps_clip, s.eps_clip_high)
            ppo_kl = old - logp.detach()
        else:
            log_ratio = sequence_log_ratio(logp, old, mask) if s.advantage_estimator == "gspo" else None
            pg, clipped = clipped_policy_loss(logp, old, adv, s.eps_clip, s.eps_clip_high, s.eps_clip_c, log_ratio)
            ppo_kl = -(log_ratio.detach() if log_ratio is not None else logp.detach() - old)
        pg_loss, entropy_loss = reduce(pg, mask), reduce(entropy, mask)
        loss = pg_loss - s.entropy_coef * entropy_loss
        metrics = {"train/pg_loss": pg_loss.item(), "train/entropy_loss": entropy_loss.item(),
                   "train/pg_clipfrac": reduce(clipped, mask).item(), "train/ppo_kl": reduce(ppo_kl, mask).item()}
        if rollout.rollout_logprobs is not None:  # slime's train_rollout_logprob_abs_diff: 0 when on-policy
            diff = (old - rollout.rollout_logprobs[samples]).abs()
            metrics["train/train_rollout_logprob_abs_diff"] = reduce(diff, mask).item()
        if s.use_tis:  # slime's vanilla_tis_function: the trainer's old log-probs vs the rollout's
            if rollout.rollout_logprobs is None:
                raise ValueError("use_tis needs the rollout's log-probs")
            tis = (old - rollout.rollout_logprobs[samples]).exp()
            weights = tis.clamp(min=s.tis_clip_low, max=s.tis_clip)
            pg_loss = reduce(pg * weights, mask)
            loss = pg_loss - s.entropy_coef * entropy_loss
            metrics.update({"train/pg_loss": pg_loss.item(), "train/tis": reduce(tis, mask).item(),
                            "train/tis_clipfrac": reduce((weights != tis).float(), mask).item()})
        if s.use_kl_loss and ref is not None:
            ratio = (logp - old).exp() if s.use_unbiased_kl else None
            kl_loss = reduce(kl_to_reference(logp, ref[k], s.kl_loss_type, ratio), mask)
            loss = loss + s.kl_loss_coef * kl_loss
            metrics["train/kl_loss"] = kl_loss.item()
        if schedule is not None:
            lr = schedule.lr_at(first_step + k)
            for group in optimizer.param_groups:
                group["lr"] = lr
            metrics["train/lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        metrics["train/grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip_grad))
        optimizer.step()
        metrics["train/loss"] = loss.item()
        for key, value in metrics.items():
            totals[key] = totals.get(key, 0.0) + value / len(steps)
    totals["train/steps"] = float(len(steps))
    return totals
