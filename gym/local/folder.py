"""The run folder of a local run, runs/<name>/: the only place the local backend writes or deletes.

- **Where.** `run_folder(out_dir, name)` is `out_dir/name`, with `name` one plain path component
  (the config rule `run_name_one_folder` says so first) and the folder, once it exists, really
  `out_dir/name` after resolving links. `inside(run_dir, path)` is the guard every write and
  delete goes through: a path that resolves outside the run folder is refused, never touched.
- **One run per folder.** `RunLock` holds `runs/<name>/.lock` with an exclusive `flock` and
  writes the holder's pid in it. The kernel drops the lock when its holder dies, so a dead
  holder's lock is taken over with no guessing from pids (and a reused pid cannot keep a folder
  locked); a live holder makes the second run fail with one message (CLI exit 2). Two runs in
  one process (the control panel's threads) exclude each other too: each opens the file anew.
- **Starting over keeps the old run.** `keep_aside` moves the old run's files into
  `runs/<name>/.previous/` (only after the new run has passed every check: config, reward import,
  data); the new run drops them at its first checkpoint (or its end, without checkpoints).
  A start that fails or is interrupted before that puts the old run back (`restore_previous`);
  one killed (SIGKILL) before it leaves `.previous` for the next start: `resume=True` continues
  the old run from it, a start over keeps it aside again.
- **Checkpoints** are written whole into `checkpoint.tmp-<pid>` and committed
  (`commit_checkpoint`) by the process that writes the metrics, after the row of the last
  rollout they include is written: a kill at any point leaves either the previous checkpoint or
  the new one, and every rollout the checkpoint covers has its row. A stale `checkpoint.old` (a
  kill while it was being removed) is removed at the next commit; `checkpoint.tmp-<pid>` folders
  of dead processes are removed at start (`clean_stale_tmp`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from gym.errors import UserError

LOCK = ".lock"
"""The lock file inside the run folder."""
PREVIOUS = ".previous"
"""Where the old run waits while a new run of the same name has not saved yet."""
TMP_CHECKPOINT = re.compile(r"^checkpoint\.tmp-(\d+)$")
"""A checkpoint being written, by the process with that pid."""


class RunFolderError(UserError):
    """The run folder cannot be used: its name reaches outside `out_dir`, another run holds it, or
    its checkpoint is unreadable."""


def run_folder(out_dir: str | os.PathLike, name: str) -> Path:
    """`out_dir/name`, checked: `name` is one path component and the folder (if it exists) is a
    real folder right under `out_dir`, not a link to somewhere else."""
    from gym.slime.rules import is_one_folder_name

    if not is_one_folder_name(name) or Path(name).name != name:
        raise RunFolderError(f"run name {name!r} must be one folder name (not '.', '..', empty, nor containing "
                             "'/' or '\\'): the local run writes runs/<name>/ and clears it to start over")
    run_dir = Path(out_dir) / name
    if run_dir.is_symlink() or (run_dir.exists() and run_dir.resolve() != Path(out_dir).resolve() / name):
        raise RunFolderError(f"{run_dir} is a link to {run_dir.resolve()}: a local run only writes and deletes in a "
                             "real folder of its own; remove the link or give the run another name")
    return run_dir


def inside(run_dir: Path, path: str | os.PathLike) -> Path:
    """`path`, after checking that it is inside `run_dir` once links are resolved (the entry itself
    may be a link: removing a link removes the link). Every write and delete goes through this."""
    root = Path(run_dir).resolve()
    p = Path(path)
    target = p.parent.resolve() / p.name
    if p.name in ("", ".", "..") or (target != root and root not in target.parents):
        raise RunFolderError(f"refused to write or delete {p} (it resolves to {target}, outside the run folder "
                             f"{root})")
    return p


def remove(run_dir: Path, path: str | os.PathLike) -> None:
    """Delete a file, link or folder inside the run folder (checked by `inside`); nothing if absent."""
    p = inside(run_dir, path)
    if p.is_symlink() or p.is_file():
        p.unlink()
    elif p.is_dir():
        shutil.rmtree(p)


class RunLock:
    """One run per run folder (see the module docstring). Use as a context manager."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        import fcntl

        path = inside(self.run_dir, self.run_dir / LOCK)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace")
            os.close(fd)
            try:
                info = json.loads(holder)
                who = f"process {info['pid']}, started {time.strftime('%H:%M:%S', time.localtime(info['since']))}"
            except (ValueError, KeyError, TypeError):
                who = "another process"
            raise RunFolderError(f"{self.run_dir} is in use by another run ({who}); two runs of one name would "
                                 "interleave their rows: wait for it to end, stop it, or give this run another "
                                 "name") from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "since": time.time()}).encode())
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        import fcntl

        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_tmp(run_dir: Path) -> None:
    """Remove `checkpoint.tmp-<pid>` folders whose writer is dead (a kill during a save): the name
    proves they are a checkpoint being written, the dead pid that nobody will finish them."""
    if not run_dir.is_dir():
        return
    for entry in run_dir.iterdir():
        match = TMP_CHECKPOINT.match(entry.name)
        if match and not _alive(int(match.group(1))):
            remove(run_dir, entry)


def keep_aside(run_dir: Path) -> None:
    """Starting over: move the old run's files into .previous (or, when .previous already holds an
    older run, drop the files of the start that never saved and keep that older run)."""
    previous = inside(run_dir, run_dir / PREVIOUS)
    entries = [e for e in run_dir.iterdir() if e.name not in (LOCK, PREVIOUS)]
    if previous.exists():
        for entry in entries:
            remove(run_dir, entry)
        return
    if entries:
        previous.mkdir()
        for entry in entries:
            entry.rename(inside(run_dir, previous / entry.name))


def restore_previous(run_dir: Path) -> bool:
    """Put the run kept aside back (the new run's own files are dropped); False when there is none."""
    previous = run_dir / PREVIOUS
    if not previous.is_dir():
        return False
    for entry in run_dir.iterdir():
        if entry.name not in (LOCK, PREVIOUS):
            remove(run_dir, entry)
    for entry in previous.iterdir():
        entry.rename(inside(run_dir, run_dir / entry.name))
    previous.rmdir()
    return True


def drop_previous(run_dir: Path) -> None:
    """The new run has saved (or ended): the old one kept aside goes."""
    remove(run_dir, run_dir / PREVIOUS)


def commit_checkpoint(run_dir: Path, tmp: Path, folder: Path) -> None:
    """Make the checkpoint written in `tmp` the run's checkpoint `folder`: the last one is renamed
    to .old, the new one into place, then .old removed. A kill between the two renames leaves only
    .old, which `read_checkpoint_state` puts back; a kill during its removal leaves a stale .old
    next to a good checkpoint, removed here before the next commit."""
    old = inside(run_dir, folder.with_name(folder.name + ".old"))
    if old.exists() and folder.exists():
        remove(run_dir, old)
    if folder.exists():
        inside(run_dir, folder).rename(old)
    inside(run_dir, tmp).rename(folder)
    remove(run_dir, old)


def read_checkpoint_state(folder: str | os.PathLike) -> dict | None:
    """{"next_rollout_id", "fingerprint", ...} of the checkpoint in `folder` (or of its half-renamed
    predecessor `folder.old`, put back), or None when there is no checkpoint. A checkpoint whose
    state.json is unreadable is a RunFolderError: resuming must not restart from 0 silently."""
    folder = Path(folder)
    old = folder.with_name(folder.name + ".old")
    if not folder.exists() and (old / "state.json").is_file():
        old.rename(folder)  # the state a kill between commit_checkpoint's two renames leaves
    path = folder / "state.json"
    if not folder.exists():
        return None
    try:
        state = json.loads(path.read_text())
        if not isinstance(state, dict) or not isinstance(state.get("next_rollout_id"), int) \
                or "fingerprint" not in state:
            raise ValueError("no next_rollout_id and fingerprint")
    except (OSError, ValueError) as err:
        raise RunFolderError(f"cannot resume: {path} is not a checkpoint state ({type(err).__name__}: {err}); "
                             "run without resume to start over (the old run is kept aside until the new one's "
                             "first checkpoint)") from None
    return state
