"""A run's Megatron checkpoints on its volume: which saves exist, which are complete, which to keep.

Megatron (as slime runs it, `--save`/`--load` = /checkpoints/<run>) writes one folder per save,
`iter_0000020/`, holding a torch.distributed.checkpoint: `.metadata` (which lists every shard
file) plus the shard files (`__<rank>_<n>.distcp`) written by *every* node, `common.pt` and
`metadata.json`. Rank 0 then writes `latest_checkpointed_iteration.txt`, the number resumes read.

On Modal each container sees its own view of a Volume until it commits and the reader reloads.
A node that dies between writing its shards and committing leaves the marker pointing at an
incomplete folder, and every retry would fail loading it. So before a resume the latest save is
checked against its own `.metadata`; for an incomplete one the marker is moved back to the newest
complete save (or removed: the run restarts from `ref_load`). The incomplete folder is left alone
(its missing shards may only be late to commit; Megatron overwrites it when it saves that
iteration again, and pruning removes it once it is old).

Saves add up (a Qwen3-4B save with its Adam states is about 56 GB), so only the newest
`keep_checkpoints` complete saves are kept.

Plain file operations on a folder: the same code runs in the container and in tests.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

TRACKER = "latest_checkpointed_iteration.txt"
"""Megatron's marker: the iteration number of the newest finished save."""
REQUIRED_FILES = (".metadata", "common.pt", "metadata.json")
"""Files every Megatron dist-checkpoint save has (megatron/core/dist_checkpointing/serialization.py)."""
BYTES_PER_PARAM = 2 + 4 + 4 + 4
"""bf16 weights + fp32 master weights + Adam's two fp32 moments."""
_ITER = re.compile(r"^iter_(\d{7})$")


def iter_dir(ckpt_dir: str | Path, iteration: int) -> Path:
    return Path(ckpt_dir) / f"iter_{iteration:07d}"


def saved_iterations(ckpt_dir: str | Path) -> list[int]:
    """Iterations that have a save folder, oldest first."""
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return []
    return sorted(int(m.group(1)) for p in folder.iterdir() if p.is_dir() and (m := _ITER.match(p.name)))


def latest_iteration(ckpt_dir: str | Path) -> int | None:
    """The iteration Megatron would resume from (the marker), or None for a fresh run."""
    try:
        return int((Path(ckpt_dir) / TRACKER).read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def missing_files(folder: str | Path) -> list[str]:
    """Files a save lacks: the required ones and every shard its `.metadata` lists. [] when complete."""
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if ".metadata" in missing:
        return missing
    try:
        from torch.distributed.checkpoint import FileSystemReader

        metadata = FileSystemReader(str(folder)).read_metadata()
    except Exception as err:  # a truncated or unreadable .metadata is an incomplete save
        return [*missing, f".metadata (unreadable: {type(err).__name__})"]
    shards = sorted({info.relative_path for info in (metadata.storage_data or {}).values()})
    return missing + [name for name in shards if not (folder / name).is_file()]


@dataclass(frozen=True)
class ResumePoint:
    """What a resume will load, and what was repaired to get there."""

    iteration: int | None
    """The save the next attempt loads (None: starts from ref_load)."""
    skipped: tuple[int, ...] = ()
    """Incomplete saves the marker was moved back past."""
    note: str = ""

    def __str__(self) -> str:
        return self.note or (f"resuming from iteration {self.iteration}" if self.iteration is not None
                             else "no checkpoint yet: starting from the initial weights")


def prepare_resume(ckpt_dir: str | Path) -> ResumePoint:
    """Make the marker point at the newest *complete* save (moving it back past incomplete ones)."""
    ckpt_dir = Path(ckpt_dir)
    marked = latest_iteration(ckpt_dir)
    if marked is None:
        return ResumePoint(None)
    skipped: list[int] = []
    problems: list[str] = []
    for it in reversed([i for i in saved_iterations(ckpt_dir) if i <= marked]):
        missing = missing_files(iter_dir(ckpt_dir, it))
        if not missing:
            if it != marked:
                (ckpt_dir / TRACKER).write_text(str(it))
            note = (f"iteration {marked} is incomplete ({'; '.join(problems) or 'no folder'}); "
                    f"resuming from iteration {it}" if it != marked else "")
            return ResumePoint(it, tuple(skipped), note)
        problems.append(f"iteration {it} lacks {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}")
        skipped.append(it)
    (ckpt_dir / TRACKER).unlink(missing_ok=True)
    return ResumePoint(None, tuple(skipped),
                       f"no complete checkpoint ({'; '.join(problems) or f'iteration {marked} has no folder'}): "
                       "starting from the initial weights")


def prune(ckpt_dir: str | Path, keep: int) -> list[int]:
    """Delete all but the newest `keep` saves (never the one the marker names). Returns the deleted."""
    ckpt_dir = Path(ckpt_dir)
    marked = latest_iteration(ckpt_dir)
    done = [i for i in saved_iterations(ckpt_dir) if marked is not None and i <= marked]  # newer: being written
    old = [i for i in done[:-keep] if i != marked] if keep > 0 else []
    for it in old:
        shutil.rmtree(iter_dir(ckpt_dir, it), ignore_errors=True)
    return old


def save_gib(num_params: float) -> float:
    """Size of one save in GiB: weights, master weights and Adam states."""
    return num_params * BYTES_PER_PARAM / 2**30
