"""The tiny world of the local backend: a built-in task, a tokenizer, a model, a config.

Nothing is downloaded. The model keeps the chosen model's *architecture family*
(Qwen3 dense, or Qwen3-MoE for 30B-A3B: the same transformers class, the same attention
layout, tied or untied embeddings) at toy size, randomly initialised. The tokenizer is
built in-process from the dataset's own text (characters, plus BPE merges when asked),
with Qwen's ChatML special tokens and chat template.

The built-in task is GSM8K-shaped (chat `messages` + numeric `label`): small sums a
random tiny model learns from scratch with GRPO in about a minute on 2 CPU cores.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from gym.models import ModelArchitecture

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
PAD, EOS = "<|endoftext|>", "<|im_end|>"
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""ChatML, as Qwen3's template renders a conversation without tools or thinking."""


# ---- the built-in task ---------------------------------------------------------------------------

def tiny_task_rows(repeats: int = 10, seed: int = 0, max_operand: int = 4) -> list[dict]:
    """GSM8K-shaped rows, every sum a + b with 0 ≤ a, b ≤ max_operand, `repeats` times, shuffled:
    {"messages": [{"role": "user", "content": "What is 3 + 1?"}], "label": "4"}."""
    rows = [{"messages": [{"role": "user", "content": f"What is {a} + {b}?"}], "label": str(a + b)}
            for a in range(max_operand + 1) for b in range(max_operand + 1)] * repeats
    random.Random(seed).shuffle(rows)
    return rows


def write_tiny_task(folder: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write the task's train (250 rows) and test (25 rows) files as jsonl; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / "tiny_sums_train.jsonl", folder / "tiny_sums_test.jsonl"
    for path, rows in ((train, tiny_task_rows(10, seed)), (test, tiny_task_rows(1, seed + 1))):
        if not path.exists():
            tmp = path.with_suffix(".tmp")
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
            tmp.replace(path)
    return train, test


FIRST_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


async def first_number_reward(args, sample, **kwargs) -> float:
    """1.0 when the first number in the response equals the label, else 0.0.

    slime's signature (`async def f(args, sample, **kwargs)`), so `custom_rm_path=
    "gym.local.tiny.first_number_reward"` works locally and on Modal alike (gym is in the image).
    """
    match = FIRST_NUMBER.search(sample.response)
    return float(match is not None and float(match.group()) == float(sample.label))


# ---- tokenizer -----------------------------------------------------------------------------------

def build_tokenizer(texts: list[str], merges: int = 0):
    """A fast HF tokenizer trained on `texts`: one token per character seen (plus `merges`
    BPE merges), Qwen's ChatML special tokens, and a chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted({ch for text in texts for ch in text})
    if merges:
        tok = Tokenizer(models.BPE(unk_token=None, fuse_unk=False))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"\s*\S+"), behavior="isolated")
        trainer = trainers.BpeTrainer(vocab_size=len(alphabet) + len(SPECIAL_TOKENS) + merges,
                                      special_tokens=SPECIAL_TOKENS, initial_alphabet=alphabet,
                                      show_progress=False)
        tok.train_from_iterator(texts, trainer)
        tok.decoder = decoders.Fuse()
    else:
        vocab = {t: i for i, t in enumerate(SPECIAL_TOKENS + alphabet)}
        tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=None))
        tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
        tok.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD,
                                        additional_special_tokens=SPECIAL_TOKENS[1:])
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


# ---- model ---------------------------------------------------------------------------------------

def tiny_architecture(arch: ModelArchitecture, hidden: int = 64, layers: int = 2) -> dict:
    """Toy dimensions with the original's shape: GQA ratio, tying, MoE-ness, RoPE base."""
    heads = 4
    kv = max(1, heads * arch.num_query_groups // arch.num_attention_heads)
    shape = dict(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                 num_attention_heads=heads, num_key_value_heads=kv, head_dim=hidden // heads,
                 rope_theta=float(arch.rotary_base), rms_norm_eps=arch.norm_epsilon,
                 tie_word_embeddings=not arch.untie_embeddings_and_output_weights, max_position_embeddings=512)
    if arch.is_moe:
        shape.update(num_experts=4, num_experts_per_tok=2, moe_intermediate_size=hidden, norm_topk_prob=True)
    return shape


def build_model(arch: ModelArchitecture, vocab_size: int, seed: int, pad_token_id: int, **dims):
    """A randomly initialised transformers model of the architecture's family, at toy size."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM, Qwen3MoeConfig, Qwen3MoeForCausalLM

    shape = tiny_architecture(arch, **dims)
    torch.manual_seed(seed)
    if arch.is_moe:
        config = Qwen3MoeConfig(vocab_size=vocab_size, pad_token_id=pad_token_id, **shape)
        return Qwen3MoeForCausalLM(config)
    config = Qwen3Config(vocab_size=vocab_size, pad_token_id=pad_token_id, **shape)
    return Qwen3ForCausalLM(config)


# ---- config --------------------------------------------------------------------------------------

def tiny_config(data_dir: str | Path | None = None, **overrides):
    """The built-in tiny run: Qwen3-4B's architecture at toy size, learning the tiny sums task.

    slime's meaning throughout: 32 prompts × 16 samples = 512 samples per rollout, 256 samples
    per optimizer step (2 steps per rollout), 150 rollouts; responses of at most 2 tokens
    (the answer, then end-of-turn). With 16 samples per prompt most groups contain a right
    answer early on, which is what lets GRPO learn from scratch (with 8, runs stall near the
    most common answer). Measured: reward 0.06 -> 0.84-0.91 in about 40 s on 2 cores
    (BENCHMARKS.md). Any field can be overridden.
    """
    from gym.datasets import LocalDataset
    from gym.slime.config import SlimeConfig

    folder = Path(data_dir) if data_dir else Path.home() / ".cache" / "gym" / "tiny_task"
    train, test = write_tiny_task(folder)
    values = dict(
        name="tiny-sums", dataset=LocalDataset(train, input_key="messages", label_key="label", eval_source=test,
                                              name="tiny_sums"),
        rm_type=None, custom_rm_path="gym.local.tiny.first_number_reward",
        rollout_batch_size=32, n_samples_per_prompt=16, global_batch_size=256, num_rollout=150,
        rollout_max_response_len=2, rollout_temperature=1.0, lr=1e-3, save_interval=25, eval_interval=50,
    )
    values.update(overrides)
    return SlimeConfig(**values)
