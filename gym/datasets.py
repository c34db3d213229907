"""Dataset configs: where a run's prompts live, which columns slime reads, how to prepare them.

A dataset object knows three things:

- `prompt_data`: the file slime reads (`--prompt-data`), a container path under the
  run's data volume (`DATA_PATH`, "/data");
- `input_key` / `label_key`: the columns slime reads the prompt and the reference
  answer from (`--input-key`, `--label-key`);
- `prepare()`: writes `prompt_data` (and any eval files). It runs inside a Modal
  container against the run's own data volume, or locally against a local folder.

RL prompts must not contain the answer: with `apply_chat_template`, slime renders the
`input_key` messages with `add_generation_prompt=True`, so a dataset whose messages
end with the assistant's reference answer would leak it into every prompt.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from gym.paths import DATA_PATH

FORMATS = (".parquet", ".jsonl")
"""File types slime's data loader reads."""


def slug(text: str) -> str:
    """A file-name-safe form of a repo id: "zhuzilin/gsm8k" -> "zhuzilin_gsm8k"."""
    return "".join(ch if ch.isalnum() or ch in "-._" else "_" for ch in text)


class DatasetConfig:
    """Base class: a prompt file plus the keys slime reads from it.

    Subclasses set the class attributes below and implement `prepare()`.
    """

    input_key: str = "input"
    """Column with the prompt: a string, or a list of chat messages."""
    label_key: str | None = None
    """Column with the reference answer the reward compares against (None: no label)."""
    apply_chat_template: bool = True
    """Render `input_key` with the tokenizer's chat template (slime --apply-chat-template)."""
    rollout_shuffle: bool = True
    """Shuffle prompts between epochs (slime --rollout-shuffle)."""

    def __init__(self, data_root: str | os.PathLike = DATA_PATH, prompt_data: str | None = None):
        self.data_root = str(data_root)
        self.prompt_data = prompt_data or f"{self.data_root}/{slug(self.name)}/train.parquet"
        self.eval_prompt_data: list[str] | None = None

    @property
    def name(self) -> str:
        """Short name used for folders and run names."""
        return type(self).__name__

    def prepare(self) -> None:
        """Write `prompt_data` (and the eval files). Must be safe to run again."""
        raise NotImplementedError(f"{type(self).__name__}.prepare()")

    def output_files(self) -> list[str]:
        """Every file `prepare()` must leave behind: the prompts, then each eval file."""
        evals = self.eval_prompt_data or []
        return [self.prompt_data, *evals[1::2]]

    def state(self) -> dict[str, Any]:
        """The instance's data (its __dict__), which must be JSON-serialisable to ship it."""
        return dict(vars(self))

    def __repr__(self) -> str:
        root = "" if self.data_root == DATA_PATH else repr(self.data_root)
        return f"{type(self).__name__}({root})"


class HuggingFaceDataset(DatasetConfig):
    """A split of a Hugging Face dataset, written as parquet under `data_root`.

    `prompt_data` is `{data_root}/{hf_repo with / as _}/{hf_split}.parquet`.
    """

    hf_repo: str = ""
    """Hugging Face dataset repo id, e.g. "zhuzilin/gsm8k"."""
    hf_config: str | None = None
    """Dataset configuration name (the second argument of `load_dataset`)."""
    hf_split: str = "train"
    hf_revision: str | None = None

    def __init__(self, data_root: str | os.PathLike = DATA_PATH):
        super().__init__(data_root, prompt_data=None)
        self.prompt_data = f"{self.data_root}/{slug(self.name)}/{self.hf_split}.parquet"

    @property
    def name(self) -> str:
        return self.hf_repo or type(self).__name__

    def prepare(self) -> None:
        from datasets import load_dataset

        ds = load_dataset(self.hf_repo, self.hf_config, split=self.hf_split, revision=self.hf_revision)
        write_parquet_atomically(ds, self.prompt_data)


class GSM8K(HuggingFaceDataset):
    """Grade-school math, as the course uses it: chat `messages` prompts, numeric `label`.

    Trains on the train split and evaluates on the test split (slime --eval-prompt-data
    gsm8k <test file>). `zhuzilin/gsm8k` is GSM8K already in slime's format.
    """

    hf_repo = "zhuzilin/gsm8k"
    input_key = "messages"
    label_key = "label"

    def __init__(self, data_root: str | os.PathLike = DATA_PATH):
        super().__init__(data_root)
        self.eval_prompt_data = ["gsm8k", self.prompt_data.replace("train.parquet", "test.parquet")]

    def prepare(self) -> None:
        from datasets import load_dataset

        super().prepare()
        test = load_dataset(self.hf_repo, self.hf_config, split="test", revision=self.hf_revision)
        write_parquet_atomically(test, self.eval_prompt_data[1])


class LocalDataset(DatasetConfig):
    """Prompts from a local .jsonl or .parquet file (and an optional local eval file).

    The local backend reads `source` directly. On Modal the files are uploaded into the
    run's data volume at launch, as `{data_root}/{name}/train.<ext>` (and `test.<ext>`).
    """

    def __init__(self, source: str | os.PathLike, *, input_key: str = "input",
                 label_key: str | None = None, eval_source: str | os.PathLike | None = None,
                 name: str | None = None, apply_chat_template: bool = True,
                 data_root: str | os.PathLike = DATA_PATH):
        self.source = str(source)
        self.eval_source = str(eval_source) if eval_source else None
        self._name = name or Path(self.source).stem
        self.input_key = input_key
        self.label_key = label_key
        self.apply_chat_template = apply_chat_template
        ext = Path(self.source).suffix
        super().__init__(data_root, prompt_data=f"{data_root}/{slug(self._name)}/train{ext}")
        if self.eval_source:
            eval_ext = Path(self.eval_source).suffix
            self.eval_prompt_data = [self._name, f"{data_root}/{slug(self._name)}/test{eval_ext}"]

    @property
    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        args = [repr(self.source), f"input_key={self.input_key!r}"]
        args += [f"{k}={v!r}" for k, v in (("label_key", self.label_key), ("eval_source", self.eval_source))
                 if v is not None]
        if self._name != Path(self.source).stem:
            args.append(f"name={self._name!r}")
        return f"LocalDataset({', '.join(args)})"

    def uploads(self) -> dict[str, str]:
        """Local file -> container path, for the launcher's volume upload."""
        files = {self.source: self.prompt_data}
        if self.eval_source:
            files[self.eval_source] = self.eval_prompt_data[1]
        return files

    def prepare(self) -> None:
        """Copy the local files to their container paths (used when data_root is local)."""
        import shutil

        for src, dst in self.uploads().items():
            Path(dst).parent.mkdir(parents=True, exist_ok=True)
            tmp = f"{dst}.tmp-{os.getpid()}"
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)


def write_parquet_atomically(ds, path: str) -> None:
    """Write a `datasets.Dataset` to `path` through a temporary file and a rename,
    so a reader never sees half a file."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    ds.to_parquet(tmp)
    os.replace(tmp, path)


def read_columns(path: str) -> list[str]:
    """Column names of a .parquet or .jsonl prompt file (reads the schema or first row only)."""
    if path.endswith(".parquet"):
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    with open(path, encoding="utf-8") as f:
        first = f.readline()
    return list(json.loads(first)) if first.strip() else []
