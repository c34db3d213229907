"""GRPO, one readable function per step: sample → group advantages → clipped loss → update.

Semantics are slime's (slime/utils/ppo_utils.py, slime/ray/rollout.py at the pinned commit):

- a rollout is `rollout_batch_size` prompts × `n_samples_per_prompt` samples;
- advantages: each sample's reward minus its group's mean, divided by the group's std + 1e-6
  (GRPO and GSPO), the same value for every response token;
- the policy loss is PPO's clipped objective with `eps_clip` below and `eps_clip_high`
  above, per token, averaged within each sample and then over samples ("sum of sample means");
- old log-probs are the trainer's, taken before the rollout's first optimizer step;
- optional KL to a frozen reference (`k1`, `k2`, `k3`/`low_var_kl`) and an entropy bonus;
- `global_batch_size` samples per optimizer step, so samples per rollout / global batch steps.

One implementation choice is ours: the n samples of a prompt share its prefix. The prompt
is run once (in generation and in training), and its key/value cache is repeated for the
samples, so a step costs prompts + responses, not samples × (prompt + response).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


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
    advantages: torch.Tensor

    @property
    def n(self) -> int:
        return len(self.responses) // len(self.prompt_ids)

    def to(self, device) -> Rollout:
        return Rollout(*(t.to(device) for t in (self.prompt_ids, self.prompt_mask, self.responses,
                                                 self.response_mask, self.rewards, self.advantages)))


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


def _sample_next(logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator) -> torch.Tensor:
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    if top_p < 1.0:
        sorted_probs, order = probs.sort(dim=-1, descending=True)
        keep = sorted_probs.cumsum(-1) - sorted_probs < top_p
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_probs * keep)
    return torch.multinomial(probs.cpu(), 1, generator=generator).squeeze(-1).to(logits.device)


@torch.no_grad()
def generate(model, prompt_ids: torch.Tensor, prompt_mask: torch.Tensor, n: int, max_new_tokens: int,
             temperature: float, top_p: float, eos_id: int, pad_id: int, generator: torch.Generator):
    """Sample `n` responses per prompt. Returns (responses, response_mask), one row per sample."""
    rows = torch.arange(len(prompt_ids), device=prompt_ids.device).repeat_interleave(n)
    logits, cache = _prefill(model, prompt_ids, prompt_mask, rows)
    mask = prompt_mask[rows]
    done = torch.zeros(len(rows), dtype=torch.bool, device=prompt_ids.device)
    tokens, live = [], []
    for step in range(max_new_tokens):
        token = _sample_next(logits, temperature, top_p, generator)
        token = torch.where(done, torch.full_like(token, pad_id), token)
        tokens.append(token)
        live.append((~done).long())
        done = done | (token == eos_id)
        if bool(done.all()) or step == max_new_tokens - 1:
            break
        mask = torch.cat([mask, torch.ones_like(token)[:, None]], dim=1)
        out = model(input_ids=token[:, None], attention_mask=mask, position_ids=_positions(mask)[:, -1:],
                    cache=cache, use_cache=True)
        logits, cache = out.logits[:, -1], out.cache
    return torch.stack(tokens, dim=1), torch.stack(live, dim=1)


def group_advantages(rewards: torch.Tensor, n: int, std_normalize: bool = True) -> torch.Tensor:
    """(reward − group mean) / (group std + 1e-6), per group of n samples of one prompt."""
    grouped = rewards.view(-1, n)
    centered = grouped - grouped.mean(dim=1, keepdim=True)
    if std_normalize and n > 1:
        centered = centered / (grouped.std(dim=1, keepdim=True) + 1e-6)
    return centered.reshape(-1)


def response_logprobs(model, rollout: Rollout, samples: slice, with_entropy: bool = False):
    """Log-probability of each response token of `samples` (and each step's entropy).

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
    logp_all = F.log_softmax(logits, dim=-1)
    logp = logp_all.gather(-1, responses[..., None]).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1) if with_entropy else None
    return logp, entropy


def sample_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each sample's masked tokens, then over samples (slime's sum_of_sample_mean / B)."""
    per_sample = (values * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return per_sample.mean()


def clipped_policy_loss(logp, old_logp, advantages, eps_clip: float, eps_clip_high: float):
    """PPO's clipped surrogate per token. Returns (loss per token, clipped-or-not per token)."""
    ratio = (logp - old_logp).exp()
    adv = advantages[:, None]
    unclipped = -ratio * adv
    clipped = -ratio.clamp(1 - eps_clip, 1 + eps_clip_high) * adv
    return torch.maximum(unclipped, clipped), (clipped > unclipped).float()


def kl_to_reference(logp, ref_logp, kind: str) -> torch.Tensor:
    """Per-token KL estimate between the policy and the reference (Schulman's k1/k2/k3)."""
    log_ratio = logp - ref_logp
    if kind == "k1":
        return log_ratio
    if kind == "k2":
        return log_ratio ** 2 / 2
    kl = (-log_ratio).exp() - 1 + log_ratio  # k3 / low_var_kl: unbiased, non-negative
    return kl.clamp(-10, 10) if kind == "low_var_kl" else kl


def train_on_rollout(model, optimizer, rollout: Rollout, *, global_batch_size: int, eps_clip: float,
                     eps_clip_high: float, clip_grad: float, entropy_coef: float = 0.0, kl_coef: float = 0.0,
                     kl_type: str = "low_var_kl", ref_model=None) -> dict[str, float]:
    """Optimizer steps over one rollout, `global_batch_size` samples each. Returns mean metrics."""
    total = len(rollout.responses)
    steps = [slice(i, min(i + global_batch_size, total)) for i in range(0, total, global_batch_size)]
    with torch.no_grad():  # old log-probs come from before the first step; step one gets its own for free
        old_later = [response_logprobs(model, rollout, s)[0] for s in steps[1:]]
        ref = [response_logprobs(ref_model, rollout, s)[0] for s in steps] if ref_model is not None else None

    totals: dict[str, float] = {}
    for k, samples in enumerate(steps):
        logp, entropy = response_logprobs(model, rollout, samples, with_entropy=True)
        old = logp.detach() if k == 0 else old_later[k - 1]
        mask = rollout.response_mask[samples].float()
        pg, clipped = clipped_policy_loss(logp, old, rollout.advantages[samples], eps_clip, eps_clip_high)
        pg_loss, entropy_loss = sample_mean(pg, mask), sample_mean(entropy, mask)
        loss = pg_loss - entropy_coef * entropy_loss
        metrics = {"train/pg_loss": pg_loss.item(), "train/entropy_loss": entropy_loss.item(),
                   "train/pg_clipfrac": sample_mean(clipped, mask).item(),
                   "train/ppo_kl": sample_mean(old - logp.detach(), mask).item()}
        if ref is not None:
            kl_loss = sample_mean(kl_to_reference(logp, ref[k], kl_type), mask)
            loss = loss + kl_coef * kl_loss
            metrics["train/kl_loss"] = kl_loss.item()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        metrics["train/grad_norm"] = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip_grad))
        optimizer.step()
        metrics["train/loss"] = loss.item()
        for key, value in metrics.items():
            totals[key] = totals.get(key, 0.0) + value / len(steps)
    totals["train/steps"] = float(len(steps))
    return totals
