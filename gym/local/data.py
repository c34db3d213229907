"""Prompts for the local backend: the config's dataset through `datasets`, as slime reads it.

slime reads `input_key` (a string, or chat messages), `label_key` and the metadata column
(`--metadata-key`, default "metadata": a row's value or {} becomes `sample.metadata`) from a
.jsonl or .parquet file and, with `apply_chat_template`, renders the prompt with the tokenizer's chat
template and `add_generation_prompt=True`. Prompts for rollout k are a pure function of
(seed, k): each epoch is a fresh shuffle, so a resumed run draws exactly the prompts the
uninterrupted run would have.
"""

from __future__ import annotations

import copy
import json
import logging
import random
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from gym.datasets import DatasetConfig, LocalDataset
from gym.errors import UserError
from gym.paths import DATA_PATH


class DataError(UserError):
    """The dataset cannot feed a run: missing file, empty, or missing columns (named)."""


@dataclass(frozen=True)
class Row:
    index: int
    """Row number in the file, from 0 (as `datasets` numbers it)."""
    prompt: str | list[dict]
    label: str | None
    metadata: dict = field(default_factory=dict)
    """The row's metadata column (slime: `data.get(metadata_key) or {}`)."""
    line: int | None = None
    """Line of a .jsonl file the row is on, from 1 as an editor counts it (None for parquet)."""
    source: str | None = None
    """The file the row comes from."""


def local_files(dataset: DatasetConfig, data_dir: Path) -> tuple[str, str | None]:
    """Local paths of the prompt file and the first eval file, preparing them if needed.

    A LocalDataset is read where it is. Any other dataset is prepared into `data_dir`
    (its container paths under /data are mapped there), which needs its source reachable
    (e.g. the Hugging Face hub; offline, use a LocalDataset).
    """
    if isinstance(dataset, LocalDataset):
        return dataset.source, dataset.eval_source
    local = copy.copy(dataset)
    remap = lambda p: str(data_dir) + p[len(DATA_PATH):] if p.startswith(DATA_PATH) else p  # noqa: E731
    local.data_root = str(data_dir)
    local.prompt_data = remap(dataset.prompt_data)
    if dataset.eval_prompt_data:
        local.eval_prompt_data = [remap(p) if i % 2 else p for i, p in enumerate(dataset.eval_prompt_data)]
    if not Path(local.prompt_data).is_file():
        try:
            local.prepare()
        except Exception as err:
            raise DataError(f"dataset {dataset.name!r} could not be prepared locally into {data_dir}: "
                            f"{type(err).__name__}: {err}. Offline, use gym.LocalDataset with a local file.") from err
    eval_path = local.eval_prompt_data[1] if local.eval_prompt_data else None
    return local.prompt_data, eval_path


def load_rows(path: str, input_key: str, label_key: str | None, metadata_key: str = "metadata") -> list[Row]:
    """Read a .jsonl/.parquet prompt file with `datasets`; check its columns and that it has rows.

    Every problem is a DataError naming the file and, for a bad row of a .jsonl file, its line
    number from 1 (what an editor shows), so the user can go straight to it.
    """
    from datasets import load_dataset

    kind = "parquet" if path.endswith(".parquet") else "json"
    if Path(path).is_dir():
        raise DataError(f"prompt file {path} is a folder, not a file")
    if not Path(path).is_file():
        raise DataError(f"prompt file {path} does not exist")
    try:
        size = Path(path).stat().st_size
        records = _jsonl_records(path) if path.endswith(".jsonl") else None
    except OSError as err:  # unreadable: permissions, a broken mount
        raise DataError(f"prompt file {path} cannot be read: {err.strerror or err}") from err
    if size == 0 or records == []:
        raise DataError(f"{path} has no rows")
    import datasets

    datasets.disable_progress_bars()  # a prompt file loads in milliseconds; the bars were noise
    quiet = logging.getLogger("datasets")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # it logs a bad file before raising; the DataError below says it once
    try:
        ds = load_dataset(kind, data_files=path, split="train")
    except Exception as err:  # datasets' own errors name neither the file nor the fix
        raise DataError(f"{path} could not be read as {kind}: {type(err).__name__}: {err}") from err
    finally:
        quiet.setLevel(level)
    missing = [k for k in (input_key, label_key) if k and k not in ds.column_names]
    if missing:
        raise DataError(f"{path}: no column(s) {missing}; the columns are {ds.column_names} "
                        "(set the dataset's input_key/label_key)")
    if len(ds) == 0:
        raise DataError(f"{path} has no rows")
    if records is not None and len(records) != len(ds):
        records = None  # the reader saw the file differently: name rows by index only
    lines = [number for number, _ in records] if records else None
    # Each line's metadata exactly as json.loads gives it: datasets would give every row the union
    # of all rows' keys, filled with None (slime reads the line itself).
    raw_metadata = [obj.get(metadata_key) for _, obj in records] if records else None
    rows = []
    for i, rec in enumerate(ds):
        line = lines[i] if lines else None
        where = f"{path} line {line}" if line else f"{path} row {i}"
        prompt = rec[input_key]
        problem = _prompt_problem(prompt)
        if problem:
            raise DataError(f"{where}: {input_key!r} {problem}")
        metadata = raw_metadata[i] if raw_metadata is not None else rec.get(metadata_key)
        rows.append(Row(i, prompt, None if label_key is None else rec[label_key], metadata or {}, line, path))
    return rows


CHAT_ROLES = ("system", "user", "assistant", "tool")
"""The roles a chat template renders (Qwen3's ChatML; templates compare them case-sensitively)."""


def _prompt_problem(prompt) -> str | None:
    """Why a row's prompt cannot be a prompt (None when it can): a string, or a non-empty list of
    {"role", "content"} messages with a chat role and text content."""
    if isinstance(prompt, str):
        return None
    if not isinstance(prompt, list):
        return f"must be a string or a list of {{'role', 'content'}} messages, got {prompt!r:.80}"
    if not prompt:
        return "is an empty list of messages: a chat prompt needs at least one message"
    for i, m in enumerate(prompt):
        if not (isinstance(m, dict) and "role" in m and "content" in m):
            return f"must be a string or a list of {{'role', 'content'}} messages, got {prompt!r:.80}"
        if m["role"] not in CHAT_ROLES:
            return (f"message {i} has role {m['role']!r}; chat templates know {', '.join(map(repr, CHAT_ROLES))} "
                    "(case-sensitive)")
        if not isinstance(m["content"], str):
            return f"message {i} has content {m['content']!r:.80} ({type(m['content']).__name__}); expected text"
    return None


def data_digest(*paths: str | None) -> dict[str, str]:
    """SHA-256 of each file's content (what a resume checks: the run continues on the same rows)."""
    import hashlib

    out = {}
    for path in filter(None, paths):
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        out[str(path)] = h.hexdigest()
    return out


def _jsonl_records(path: str) -> list[tuple[int, dict]]:
    """Each row of a .jsonl file with its line number (from 1); a line that is not UTF-8 or not a
    JSON object is a DataError naming it (`datasets` would report a byte offset, or nothing)."""
    out = []
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{path} line {number}: not UTF-8 text (byte {raw[err.start]:#04x} at column "
                                f"{err.start + 1}); save the file as UTF-8") from None
            if not text.strip():
                continue
            try:
                value = json.loads(text.rstrip("\r\n"))
            except json.JSONDecodeError as err:
                raise DataError(f"{path} line {number}: not valid JSON ({err.msg}, column {err.colno}): "
                                f"{text.strip()[:80]!r}") from None
            if not isinstance(value, dict):
                raise DataError(f"{path} line {number}: expected a JSON object with the prompt and label, got "
                                f"{text.strip()[:80]!r}")
            out.append((number, value))
    return out


def render(prompt: str | list[dict], tokenizer, apply_chat_template: bool) -> str:
    """The prompt text the model sees (slime wraps a string as one user message)."""
    if not apply_chat_template:
        return prompt if isinstance(prompt, str) else "\n".join(m["content"] for m in prompt)
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


@lru_cache(maxsize=4)
def _epoch_order(size: int, seed: int, epoch: int, shuffle: bool) -> tuple[int, ...]:
    order = list(range(size))
    if shuffle:
        random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return tuple(order)


def prompts_for_rollout(rows: list, rollout_id: int, batch: int, seed: int, shuffle: bool) -> list:
    """The `batch` rows of rollout `rollout_id`: consecutive slices of per-epoch shuffles."""
    out = []
    for pos in range(rollout_id * batch, (rollout_id + 1) * batch):
        epoch, offset = divmod(pos, len(rows))
        out.append(rows[_epoch_order(len(rows), seed, epoch, shuffle)[offset]])
    return out
