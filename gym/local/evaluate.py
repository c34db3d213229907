"""Use what a local run trained: answer held-out prompts with its weights, before and after.

`evaluate_local(config, prompts)` loads the run's latest checkpoint (`trained=True`) or the
weights it started from (`trained=False`: the same seeded initialisation run_local used), answers
every prompt of a `.jsonl`/`.parquet` file greedily (temperature 0, as one scores a model after
training, unlike the sampled answers GRPO learns from), and scores each answer with the tiny
task's rule (the first number equals the label) or a `score(response, label)` you pass.

It reads only what a run leaves on disk (runs/<name>/run.json, tokenizer/, checkpoint/model.pt)
and builds the model with gym.local.tiny.build_model, so it works for any run of the local backend.
"""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

DEFAULT_RUNS_DIR = "runs"  # run_local's default out_dir


@dataclass(frozen=True)
class Answer:
    """One prompt, answered."""

    prompt: str
    """The prompt's text (the last user message of a chat prompt)."""
    label: str
    """The reference answer."""
    response: str
    """What the model generated (special tokens removed)."""
    correct: bool
    """score(response, label)."""


@dataclass(frozen=True)
class Evaluation:
    """A model's answers to a prompt file, and its accuracy."""

    weights: str
    """Which weights answered: "before training" or "after training (rollout N)"."""
    answers: list[Answer]

    @property
    def accuracy(self) -> float:
        """Share of prompts answered correctly (0-1)."""
        return sum(a.correct for a in self.answers) / max(len(self.answers), 1)

    def __str__(self) -> str:
        return f"{self.weights}: {self.accuracy:.0%} of {len(self.answers)} prompts"


def first_number_matches(response: str, label) -> bool:
    """The tiny task's reward as a yes/no (gym.local.tiny.first_number_reward's rule)."""
    from gym.local.tiny import FIRST_NUMBER

    match = FIRST_NUMBER.search(response)
    return match is not None and float(match.group()) == float(label)


def _prompt_text(prompt) -> str:
    return prompt if isinstance(prompt, str) else prompt[-1]["content"]


def evaluate_local(config, prompts: str | os.PathLike, *, trained: bool = True,
                   out_dir: str | os.PathLike = DEFAULT_RUNS_DIR, model_dims: dict | None = None,
                   score: Callable[[str, str], bool] | None = None, limit: int | None = None) -> Evaluation:
    """Answer every prompt in `prompts` with the weights of the local run of `config`.

    config: the SlimeConfig the run was made with (its model family, dataset keys, chat
    template and rollout_max_response_len). prompts: a .jsonl/.parquet file with the dataset's
    input_key and label_key columns. trained: the run's checkpoint (False: its starting weights).
    out_dir, model_dims: as given to run_local. score: (response, label) -> bool; default the
    tiny task's first-number rule. limit: answer only the first `limit` prompts.
    """
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        from gym.errors import UserError

        raise UserError(f"limit={limit!r} must be None (every prompt) or a whole number ≥ 1 of prompts to answer")
    import torch
    from transformers import AutoTokenizer

    from gym.local.data import load_rows, render
    from gym.local.tiny import build_model

    r = config.resolve()
    c = r.config
    run_dir = Path(out_dir) / r.name
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"no local run of {r.name!r} in {run_dir}: run_local(config) first")
    seed = json.loads((run_dir / "run.json").read_text())["seed"]
    tokenizer = AutoTokenizer.from_pretrained(run_dir / "tokenizer")
    tokenizer.padding_side = "left"  # generation continues each prompt from its last token
    model = build_model(r.model.architecture, len(tokenizer), seed, tokenizer.pad_token_id, **(model_dims or {}))
    weights = "before training"
    if trained:
        checkpoint = run_dir / "checkpoint"
        if not (checkpoint / "model.pt").is_file():
            raise FileNotFoundError(f"{checkpoint} has no model.pt: give the run a save_interval")
        model.load_state_dict(torch.load(checkpoint / "model.pt", weights_only=True))
        state = json.loads((checkpoint / "state.json").read_text())
        weights = f"after training ({state['next_rollout_id']} rollouts)"
    model.eval()

    rows = load_rows(str(prompts), c.dataset.input_key, c.dataset.label_key)[:limit]
    texts = [render(row.prompt, tokenizer, c.dataset.apply_chat_template) for row in rows]
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, do_sample=False, max_new_tokens=c.rollout_max_response_len,
                             eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    responses = tokenizer.batch_decode(out[:, batch.input_ids.shape[1]:], skip_special_tokens=True)
    score = score or first_number_matches
    answers = [Answer(_prompt_text(row.prompt), str(row.label), resp.strip(), bool(score(resp, row.label)))
               for row, resp in zip(rows, responses)]
    return Evaluation(weights, answers)


def side_by_side(before: Evaluation, after: Evaluation, limit: int | None = None):
    """An HTML table (an IPython HTML object) of each prompt, its label, and both answers, ✓/✗."""
    from IPython.display import HTML

    def cell(a: Answer) -> str:
        mark = "✓" if a.correct else "✗"
        color = "#1a7f37" if a.correct else "#cf222e"
        return f'<td><code>{html.escape(a.response) or "(nothing)"}</code> <span style="color:{color}">{mark}</span></td>'

    rows = "".join(f"<tr><td>{html.escape(b.prompt)}</td><td>{html.escape(b.label)}</td>{cell(b)}{cell(a)}</tr>"
                   for b, a in list(zip(before.answers, after.answers))[:limit])
    return HTML(f"<table><tr><th>prompt</th><th>label</th><th>{html.escape(before.weights)}: "
                f"{before.accuracy:.0%}</th><th>{html.escape(after.weights)}: {after.accuracy:.0%}</th></tr>"
                f"{rows}</table>")
