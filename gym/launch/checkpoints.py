"""A run's Megatron checkpoints on its volume: which saves exist, which are complete, which to keep.

Megatron (as slime runs it, `--save`/`--load` = /checkpoints/<run>) writes one folder per save,
`iter_0000020/`, holding a torch.distributed.checkpoint: `.metadata` (which lists every shard
file, with each item's offset and length in it) plus the shard files (`__<rank>_<n>.distcp`)
written by *every* node, `common.pt` and `metadata.json`. Rank 0 then writes
`latest_checkpointed_iteration.txt`, the number resumes read. After the model save, slime's
rollout manager saves the prompt sampler's position, `rollout/global_dataset_state_dict_<it>.pt`
(slime/rollout/data_source.py `save`); a resume without it silently restarts the data from its
first prompt (`load` only logs "does not exist"), so it is part of a complete save.

On Modal each container sees its own view of a Volume until it commits and the reader reloads.
A node that dies between writing its shards and committing leaves the marker pointing at an
incomplete folder, and every retry would fail loading it. So before a resume the latest save is
checked against its own `.metadata` (every shard present and long enough: a background commit
can catch a shard half written) and for slime's data state; for an incomplete one the marker is
moved back to the newest complete save (or removed: the run restarts from `ref_load`); a complete
save newer than the marker (the marker was late) is resumed from. Save folders newer than the
resume point are deleted then (this runs only while no attempt trains, and only once every
container of the last attempt acknowledged its commit: a save that could still be arriving is
kept, `delete_unfinished=False`):
Megatron writes into an existing folder with only a warning ("Overwriting old incomplete /
corrupted checkpoint", dist_checkpointing/serialization.py `save`), so shards left from the
failed save would otherwise sit next to the new save's under the same names, and a later
check could pass on a mix of the two.

Saves add up (a Qwen3-4B save with its Adam states is about 56 GB), so only the newest
`keep_checkpoints` complete saves are kept; incomplete ones never count towards that number, so
the newest complete save is never pruned.

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
NO_DATA_STATE_FLAG = "--disable-rollout-global-dataset"
"""slime's flag that turns the global dataset (and its saved state) off; without it the state is saved."""
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


def data_state_file(ckpt_dir: str | Path, iteration: int) -> Path:
    """slime's saved prompt-sampler state for a save (written by the rollout manager after it)."""
    return Path(ckpt_dir) / "rollout" / f"global_dataset_state_dict_{iteration}.pt"


def saves_data_state(argv: list[str]) -> bool:
    """Whether slime, run with `argv`, saves its dataset state with every checkpoint (its default)."""
    return NO_DATA_STATE_FLAG not in argv


def missing_files(folder: str | Path, data_state: bool = False) -> list[str]:
    """What a save lacks: the required files, every shard its `.metadata` lists (each at least as
    long as the items it holds), and with `data_state` slime's dataset state. [] when complete."""
    folder = Path(folder)
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if data_state:
        state = data_state_file(folder.parent, int(_ITER.match(folder.name).group(1)))
        if not state.is_file():
            missing.append(str(state.relative_to(folder.parent)))
    if ".metadata" in missing:
        return missing
    try:
        from torch.distributed.checkpoint import FileSystemReader

        metadata = FileSystemReader(str(folder)).read_metadata()
    except Exception as err:  # a truncated or unreadable .metadata is an incomplete save
        return [*missing, f".metadata (unreadable: {type(err).__name__})"]
    needed: dict[str, int] = {}  # shard -> bytes its items reach
    for info in (metadata.storage_data or {}).values():
        needed[info.relative_path] = max(needed.get(info.relative_path, 0), info.offset + info.length)
    for name in sorted(needed):
        path = folder / name
        if not path.is_file():
            missing.append(name)
        elif path.stat().st_size < needed[name]:
            missing.append(f"{name} (truncated: {path.stat().st_size} of {needed[name]} bytes)")
    return missing


@dataclass(frozen=True)
class ResumePoint:
    """What a resume will load, and what was repaired to get there."""

    iteration: int | None
    """The save the next attempt loads (None: starts from ref_load)."""
    skipped: tuple[int, ...] = ()
    """Incomplete saves the marker was moved back past."""
    removed: tuple[int, ...] = ()
    """Save folders deleted because they are newer than the resume point (failed saves)."""
    note: str = ""
    kept: tuple[int, ...] = ()
    """Unfinished saves newer than the resume point that were kept: not proven abandoned."""

    @property
    def changed(self) -> bool:
        """Whether the folder was repaired (the volume needs a commit)."""
        return bool(self.skipped or self.removed or self.note)

    def __str__(self) -> str:
        return self.note or (f"resuming from iteration {self.iteration}" if self.iteration is not None
                             else "no checkpoint yet: starting from the initial weights")


def prepare_resume(ckpt_dir: str | Path, data_state: bool = False, delete_unfinished: bool = True) -> ResumePoint:
    """Make the marker point at the newest *complete* save and delete the save folders newer than
    it (leftovers of failed saves; see the module docstring). Call it only while no attempt is
    training. `data_state`: slime saves its dataset state with each checkpoint
    (`saves_data_state(argv)`), so a save without it is incomplete.

    The newest complete save may also be newer than the marker: Megatron writes the marker only
    after the save, and a container stopped in between (or whose last commit carried the save but
    not the marker) leaves a finished save unmarked; the marker is moved forward to it rather than
    the save being lost.

    `delete_unfinished=False`: the saves newer than the resume point are kept (`ResumePoint.kept`),
    because one of them may still be arriving: a container of the last attempt never acknowledged
    its commit (pipeline.py). Only the marker moves."""
    ckpt_dir = Path(ckpt_dir)
    marked = latest_iteration(ckpt_dir)
    skipped: list[int] = []
    problems: list[str] = []
    resume: int | None = None
    for it in reversed(saved_iterations(ckpt_dir)):
        missing = missing_files(iter_dir(ckpt_dir, it), data_state)
        if not missing:
            resume = it
            break
        if marked is not None and it <= marked:  # newer than the marker: a save that never finished
            problems.append(f"iteration {it} lacks {', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}")
            skipped.append(it)
    newer = tuple(it for it in saved_iterations(ckpt_dir) if resume is None or it > resume)
    removed, kept = (newer, ()) if delete_unfinished else ((), newer)
    for it in removed:
        shutil.rmtree(iter_dir(ckpt_dir, it), ignore_errors=True)
    point = _resume_point(ckpt_dir, marked, resume, skipped, removed, problems)
    if kept:
        point = ResumePoint(point.iteration, point.skipped, (), (f"{point}; kept "
                            f"{', '.join(iter_dir(ckpt_dir, it).name for it in kept)}: not proven abandoned "
                            "(a container may still commit to it)"), kept)
    return point


def _resume_point(ckpt_dir: Path, marked: int | None, resume: int | None, skipped: list[int],
                  removed: tuple[int, ...], problems: list[str]) -> ResumePoint:
    """Move the marker to `resume` and describe what was repaired."""
    if resume is not None and resume != marked:
        (ckpt_dir / TRACKER).write_text(str(resume))
    if resume is not None and marked is not None and resume > marked:
        return ResumePoint(resume, tuple(skipped), removed,
                           f"iteration {resume} is complete but was not marked (latest marked: {marked}); "
                           f"resuming from iteration {resume}")
    if resume is not None:
        note = (f"iteration {marked} is incomplete ({'; '.join(problems) or 'no folder'}); "
                f"resuming from iteration {resume}" if marked is not None and resume != marked else "")
        return ResumePoint(resume, tuple(skipped), removed, note)
    if marked is None:
        return ResumePoint(None, removed=removed)
    (ckpt_dir / TRACKER).unlink(missing_ok=True)
    return ResumePoint(None, tuple(skipped), removed,
                       f"no complete checkpoint ({'; '.join(problems) or f'iteration {marked} has no folder'}): "
                       "starting from the initial weights")


def prune(ckpt_dir: str | Path, keep: int, data_state: bool = False, settled: bool = True) -> list[int]:
    """Delete the saves older than the newest `keep` *complete* ones (never the one the marker
    names, nor any newer: being written). Incomplete saves do not count towards `keep`, so the
    newest complete save, the one a resume falls back to, always stays. Returns the deleted.

    `settled=False` (while an attempt runs, or after one whose containers did not all acknowledge
    their commits): an incomplete old save may still be arriving, so only complete ones are deleted."""
    ckpt_dir = Path(ckpt_dir)
    marked = latest_iteration(ckpt_dir)
    if marked is None or keep <= 0:
        return []
    done = [i for i in saved_iterations(ckpt_dir) if i <= marked]  # newer: being written
    complete = [i for i in done if not missing_files(iter_dir(ckpt_dir, i), data_state)]
    if len(complete) <= keep:
        return []
    oldest_kept = complete[-keep]
    old = [i for i in done if i < oldest_kept and i != marked and (settled or i in complete)]
    for it in old:
        shutil.rmtree(iter_dir(ckpt_dir, it), ignore_errors=True)
    return old


def newest_complete(ckpt_dir: str | Path, data_state: bool = False) -> int | None:
    """The newest save with every file (marked or not), or None."""
    for it in reversed(saved_iterations(ckpt_dir)):
        if not missing_files(iter_dir(ckpt_dir, it), data_state):
            return it
    return None


def save_gib(num_params: float) -> float:
    """Size of one save in GiB: weights, master weights and Adam states."""
    return num_params * BYTES_PER_PARAM / 2**30
