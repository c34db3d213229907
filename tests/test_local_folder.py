"""The run folder of a local run: nothing written or deleted outside it, one run at a time, nothing of
the old run lost before the new one has proved itself, and every rollout exactly once across a kill
at any point of the row and checkpoint writes (gym/local/folder.py)."""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gym import ConfigError, LocalDataset
from gym.cli import main
from gym.errors import UserError
from gym.local import folder
from gym.local.folder import RunFolderError
from gym.local.history import History
from gym.local.runner import run_local
from gym.local.tiny import tiny_config

FAST = dict(rollout_batch_size=8, n_samples_per_prompt=4, global_batch_size=16, num_rollout=4, save_interval=2,
            eval_interval=None)
SMALL = ["--set", "rollout_batch_size=8", "--set", "n_samples_per_prompt=4", "--set", "global_batch_size=32",
         "--no-eval"]
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


@pytest.fixture
def tiny(tmp_path):
    def make(**overrides):
        return tiny_config(tmp_path / "data", **{**FAST, **overrides})
    return make


def run(config, tmp_path, **kwargs):
    return run_local(config, out_dir=tmp_path / "runs", progress=False, **kwargs)


def rollout_ids(run_dir: Path) -> list[int]:
    return [r["rollout_id"] for r in History.load(run_dir).rows]


# ---- item 1: the name is one folder; nothing outside it ---------------------------------------------

def test_a_name_reaching_outside_runs_is_refused_and_touches_nothing(tmp_path, monkeypatch, capsys):
    """The issue's reproducer: `gym run --set name=..` wrote into the current folder, and a second
    run deleted everything in it; `name=.` deleted every other run under runs/."""
    here = tmp_path / "p"
    (here / "runs" / "other").mkdir(parents=True)
    (here / "keep.txt").write_text("x")
    (here / "runs" / "other" / "metrics.jsonl").write_text("{}\n")
    monkeypatch.chdir(here)
    for name in ("..", "."):
        assert main(["run", "--set", f"name={name}", "--rollouts", "1", *SMALL]) == 2
        assert "must be one folder name" in capsys.readouterr().err
    assert sorted(p.relative_to(here).as_posix() for p in here.rglob("*")) == [
        "keep.txt", "runs", "runs/other", "runs/other/metrics.jsonl"]


def test_a_run_folder_that_links_elsewhere_is_refused(tiny, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("x")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "linked").symlink_to(elsewhere)
    for resume in (False, True):
        with pytest.raises(RunFolderError, match="is a link to"):
            run(tiny(name="linked"), tmp_path, resume=resume)
    assert [p.name for p in elsewhere.iterdir()] == ["keep.txt"]


def test_every_write_and_delete_is_checked_to_stay_inside(tmp_path):
    run_dir = tmp_path / "runs" / "r"
    run_dir.mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (run_dir / "escape").symlink_to(tmp_path / "outside")
    assert folder.inside(run_dir, run_dir / "metrics.jsonl") == run_dir / "metrics.jsonl"
    for path in (run_dir / "..", tmp_path / "x", run_dir / "escape" / "model.pt", run_dir / ".." / "r2"):
        with pytest.raises(RunFolderError, match="outside the run folder"):
            folder.inside(run_dir, path)
    folder.remove(run_dir, run_dir / "escape")  # the link itself is inside: removing it removes the link
    assert (tmp_path / "outside").is_dir() and not (run_dir / "escape").exists()
    with pytest.raises(RunFolderError):
        folder.run_folder(tmp_path / "runs", "a/b")


# ---- item 2: a failed start deletes nothing; the old run waits aside until the first save ---------

def test_a_failed_start_keeps_the_previous_run(tmp_path, capsys):
    """The issue's reproducer: `run --rollouts 5 --out-dir R; run --data empty.jsonl --out-dir R`
    emptied R/tiny-sums before saying "no rows"."""
    out = str(tmp_path / "R")
    assert main(["run", "--rollouts", "2", *SMALL, "--out-dir", out]) == 0
    before = sorted(p.name for p in (tmp_path / "R" / "tiny-sums").iterdir())
    rows = (tmp_path / "R" / "tiny-sums" / "metrics.jsonl").read_text()
    (tmp_path / "empty.jsonl").write_text("")
    assert main(["run", "--data", str(tmp_path / "empty.jsonl"), *SMALL, "--out-dir", out]) == 2
    assert "has no rows" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "R" / "tiny-sums").iterdir()) == before
    assert (tmp_path / "R" / "tiny-sums" / "metrics.jsonl").read_text() == rows


def test_a_start_that_fails_before_its_first_save_puts_the_old_run_back(tiny, tmp_path):
    (tmp_path / "bad_start.py").write_text("async def raises(args, sample, **kwargs):\n    raise KeyError('x')\n")
    sys.path.insert(0, str(tmp_path))
    try:
        first = run(tiny(name="same"), tmp_path)
        with pytest.raises(UserError, match="raised KeyError"):
            run(tiny(name="same", custom_rm_path="bad_start.raises"), tmp_path)  # fails in rollout 0
    finally:
        sys.path.remove(str(tmp_path))
    assert History.load(first.run_dir).rows == first.rows
    assert folder.read_checkpoint_state(first.run_dir / "checkpoint")["next_rollout_id"] == 4
    assert not (first.run_dir / folder.PREVIOUS).exists()


def test_starting_over_keeps_the_old_run_aside_until_the_first_save(tiny, tmp_path):
    first = run(tiny(name="over", num_rollout=3, save_interval=2), tmp_path)
    seen = []
    previous = first.run_dir / folder.PREVIOUS
    second = run(tiny(name="over", num_rollout=3, save_interval=2, lr=2e-3), tmp_path,
                 on_rollout=lambda row: seen.append((row["rollout_id"], previous.is_dir())))
    assert seen == [(0, True), (1, True), (2, False)]  # dropped at the save after rollout 1 (after its row)
    assert rollout_ids(second.run_dir) == [0, 1, 2] and not previous.exists()


def test_resume_after_a_start_over_killed_before_its_first_save_continues_the_old_run(tiny, tmp_path):
    first = run(tiny(name="k", num_rollout=4), tmp_path)
    run_dir = first.run_dir
    folder.keep_aside(run_dir)  # the state a SIGKILL before the new run's first save leaves:
    (run_dir / "metrics.jsonl").write_text('{"rollout_id": 0, "new": true}\n')  # the old run aside, a new row
    resumed = run(tiny(name="k", num_rollout=6), tmp_path, resume=True)
    assert rollout_ids(run_dir) == list(range(6))
    assert resumed.rows[:4] == first.rows and not (run_dir / folder.PREVIOUS).exists()


# ---- item 3: one run per folder ---------------------------------------------------------------------

HOLD = """
import sys, time
from pathlib import Path
from gym.local.folder import RunLock
with RunLock(Path(sys.argv[1])):
    print("HELD", flush=True)
    time.sleep(3600)
"""


def test_a_second_run_of_the_same_name_gets_one_message_and_exit_2(tiny, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "tiny-sums"
    run_dir.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir)], env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "HELD\n"
        assert main(["run", "--rollouts", "1", *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err
        assert f"is in use by another run (process {holder.pid}" in err and "Traceback" not in err
        assert list(run_dir.iterdir()) == [run_dir / folder.LOCK]  # nothing written
    finally:
        holder.kill()
        holder.wait()
    # the holder is dead: its lock is taken over
    assert main(["run", "--rollouts", "1", *SMALL, "--out-dir", str(tmp_path / "runs")]) == 0


def test_a_lock_left_by_a_dead_process_is_taken_over(tiny, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run_dir = tmp_path / "runs" / "stale"
    run_dir.mkdir(parents=True)
    (run_dir / folder.LOCK).write_text(json.dumps({"pid": int(dead.stdout), "since": 0}))
    assert rollout_ids(run(tiny(name="stale", num_rollout=1), tmp_path).run_dir) == [0]


def test_two_runs_in_one_process_exclude_each_other(tiny, tmp_path):
    run_dir = tmp_path / "runs" / "panel"
    run_dir.mkdir(parents=True)
    with folder.RunLock(run_dir):  # as a control panel's other thread would hold it
        with pytest.raises(RunFolderError, match="in use by another run"):
            run(tiny(name="panel"), tmp_path)


# ---- items 10 and 17: stale checkpoint folders, a garbage state ------------------------------------

def test_a_stale_checkpoint_old_and_dead_temporary_folders_are_cleaned(tiny, tmp_path):
    """A kill while checkpoint.old was being removed left it next to a good checkpoint: every resume
    then failed at its first save. checkpoint.tmp-<pid> folders of dead writers were never removed."""
    first = run(tiny(name="stale", num_rollout=4), tmp_path)
    run_dir = first.run_dir
    (run_dir / "checkpoint.old").mkdir()
    (run_dir / "checkpoint.old" / "model.pt").write_text("half removed")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (run_dir / f"checkpoint.tmp-{int(dead.stdout)}").mkdir()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        (run_dir / f"checkpoint.tmp-{live.pid}").mkdir()  # a live writer's: not proven ours, kept
        (run_dir / "checkpoint.tmp-notes").mkdir()  # not the pattern: kept
        resumed = run(tiny(name="stale", num_rollout=6), tmp_path, resume=True)
        assert rollout_ids(run_dir) == list(range(6)) and resumed.rows[:4] == first.rows
        assert folder.read_checkpoint_state(run_dir / "checkpoint")["next_rollout_id"] == 6
        assert sorted(p.name for p in run_dir.glob("checkpoint*")) == [
            "checkpoint", f"checkpoint.tmp-{live.pid}", "checkpoint.tmp-notes"]
    finally:
        live.kill()
        live.wait()


def test_a_garbage_state_json_makes_resume_fail_clearly(tiny, tmp_path, capsys):
    first = run(tiny(name="tiny-sums", num_rollout=2), tmp_path)
    (first.run_dir / "checkpoint" / "state.json").write_text("garbage{")
    with pytest.raises(RunFolderError, match=r"cannot resume: .*state.json is not a checkpoint state"):
        run(tiny(name="tiny-sums", num_rollout=2), tmp_path, resume=True)
    assert History.load(first.run_dir).rows == first.rows  # not restarted from 0
    assert main(["run", "--resume", "--rollouts", "2", *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
    assert "cannot resume" in capsys.readouterr().err


def test_a_folder_given_as_jsonl_is_named_a_folder(tmp_path, capsys):
    (tmp_path / "rows.jsonl").mkdir()
    assert main(["run", "--data", str(tmp_path / "rows.jsonl"), *SMALL, "--out-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "is a folder, not a file" in err and "does not exist" not in err
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        tiny_config(tmp_path / "data", dataset=LocalDataset(tmp_path / "rows.jsonl")).validate()


# ---- item 12: the data is part of the resume check -------------------------------------------------

def test_resume_refuses_edited_data(tmp_path, capsys):
    """After an edit of the data file, resume continued silently on the new rows (or crashed in the
    tokenizer): now the file's SHA-256 is part of what resume checks."""
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"input": f"What is {i} + 1?", "label": str(i + 1)}) + "\n" for i in range(9)))
    args = ["run", "--data", str(data), *SMALL, "--out-dir", str(tmp_path / "runs")]
    assert main([*args, "--rollouts", "2"]) == 0
    capsys.readouterr()
    data.write_text(data.read_text().replace("What is 3", "What is 30"))
    assert main([*args, "--rollouts", "4", "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"the data changed since the checkpoint in {tmp_path / 'runs' / 'tiny-sums' / 'checkpoint'}: {data}" in err
    assert rollout_ids(tmp_path / "runs" / "tiny-sums") == [0, 1]


# ---- item 4 and "kill at any point": both layouts, every rollout exactly once -------------------------

KILL_AT_POINT = """
import os, shutil, signal, sys
from pathlib import Path
from gym.local import folder, run_local
from gym.local.tiny import tiny_config

point = sys.argv[1]
def die():
    os.kill(os.getpid(), signal.SIGKILL)

# This process's checkpoints come after its 2nd and 4th rollout; each point is in the second one.
rows, commits, renames = [], [], []
def on_rollout(row):
    rows.append(row["rollout_id"])
    if point == "row" and len(rows) == 4:  # the row is written; its checkpoint is not committed
        die()
real_commit, real_rename, real_rmtree = folder.commit_checkpoint, Path.rename, shutil.rmtree
def commit(run_dir, tmp, ckpt):
    commits.append(tmp)
    renames.clear()
    if len(commits) == 2 and point == "tmp-written":  # written whole, not committed
        die()
    real_commit(run_dir, tmp, ckpt)
def rename(self, target):
    out = real_rename(self, target)
    renames.append(target)
    if len(commits) == 2 and ((point == "old-renamed" and len(renames) == 1)  # checkpoint -> checkpoint.old
                              or (point == "new-in-place" and len(renames) == 2)):  # tmp -> checkpoint
        die()
    return out
def rmtree(path, *args, **kwargs):
    if len(commits) == 2 and point == "old-half-removed" and str(path).endswith("checkpoint.old"):
        (Path(path) / "model.pt").unlink()
        die()
    return real_rmtree(path, *args, **kwargs)
folder.commit_checkpoint, Path.rename, shutil.rmtree = commit, rename, rmtree

config = tiny_config({data!r}, **{config!r})
run_local(config, out_dir={runs!r}, progress=False, threads=1, on_rollout=on_rollout, resume=point != "fresh")
"""
POINTS = [("row", 2), ("tmp-written", 2), ("old-renamed", 2), ("new-in-place", 4), ("old-half-removed", 4)]
"""Each kill point, and how many rollouts past its start the killed process leaves checkpointed."""


@pytest.mark.parametrize("colocate", [True, False], ids=["colocated", "split"])
def test_a_kill_at_any_point_of_the_row_and_checkpoint_writes_loses_and_repeats_nothing(tmp_path, colocate):
    """One run killed (SIGKILL) at each point of the row and checkpoint writes in turn: the row
    written but its checkpoint not; the checkpoint written but not committed; the last checkpoint
    renamed to .old; the new one in place; .old half removed. Each kill is resumed by the next
    process (itself killed at the next point), then a last one finishes: every rollout exactly
    once, in order, and no checkpoint folder left over. (A chain: one Ray start per kill.)"""
    n = 16
    settings = dict(rollout_batch_size=4, n_samples_per_prompt=2, global_batch_size=8, num_rollout=n,
                    save_interval=2, eval_interval=None, colocate=colocate, name="killed")
    script = tmp_path / "job.py"
    script.write_text(KILL_AT_POINT.format(data=str(tmp_path / "data"), config=settings, runs=str(tmp_path / "runs")))
    run_dir = tmp_path / "runs" / "killed"
    start = 0
    for point, done in POINTS:
        log = tmp_path / f"{point}.log"  # a file, not a pipe: Ray's processes would hold a pipe open
        with log.open("w") as stderr:
            proc = subprocess.Popen([sys.executable, str(script), point], env=ENV, start_new_session=True,
                                    stderr=stderr)
            try:
                proc.wait(timeout=600)
            finally:
                _kill_group(proc)  # what the killed driver started (Ray) goes too
        assert proc.returncode == -signal.SIGKILL, f"{point}: {log.read_text()[-2000:]}"
        start += done
        assert folder.read_checkpoint_state(run_dir / "checkpoint")["next_rollout_id"] == start, point
        assert rollout_ids(run_dir)[:start] == list(range(start)), point  # the checkpoint's rows are all there
    subprocess.run([sys.executable, str(script), "resume"], env=ENV, check=True, timeout=600, capture_output=True)
    history = History.load(run_dir)
    assert [r["rollout_id"] for r in history.rows] == list(range(n))
    assert [s["rollout_id"] for s in history.timeline if s["phase"] == "rollout"] == list(range(n))
    assert sorted(p.name for p in run_dir.glob("checkpoint*")) == ["checkpoint"]


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


SLOW_EVAL = """
import os, time
from pathlib import Path
from gym.local.tiny import first_number_reward

async def reward(args, sample, **kwargs):
    if os.environ.get("GYM_TEST_BLOCK") and sample.dataset_source.endswith("_test.jsonl"):  # the eval after 7
        Path(os.environ["GYM_TEST_BLOCK"]).touch()
        time.sleep(3600)  # the test kills the run here
    return await first_number_reward(args, sample)
"""
KILL_DURING_EVAL = """
import sys
sys.path.insert(0, {folder!r})
from gym.local import run_local
from gym.local.tiny import tiny_config

config = tiny_config({data!r}, **{config!r})
run_local(config, out_dir={runs!r}, progress=False, threads=1, resume=sys.argv[1] == "resume")
"""


def test_split_layout_kill_after_the_trainer_saved_loses_no_row(tmp_path):
    """The issue's reproducer: `--no-colocate --set save_interval=4`, killed after 7 rows: the trainer
    had saved the checkpoint after rollout 7 before the driver wrote row 7, so the resumed run started
    at 8 and row 7 was missing for good. Here the driver is held in the eval after rollout 7 (its
    reward blocks) while the trainer writes that checkpoint; then the run is killed."""
    import time

    (tmp_path / "slow_eval.py").write_text(SLOW_EVAL)
    settings = dict(rollout_batch_size=4, n_samples_per_prompt=2, global_batch_size=8, num_rollout=10,
                    save_interval=4, eval_interval=8, colocate=False, name="split",
                    custom_rm_path="slow_eval.reward")
    script = tmp_path / "job.py"
    script.write_text(KILL_DURING_EVAL.format(folder=str(tmp_path), data=str(tmp_path / "data"), config=settings,
                                              runs=str(tmp_path / "runs")))
    run_dir = tmp_path / "runs" / "split"
    marker = tmp_path / "in-eval"
    proc = subprocess.Popen([sys.executable, str(script), "fresh"], env={**ENV, "GYM_TEST_BLOCK": str(marker)},
                            start_new_session=True)

    def saved_after_7() -> bool:  # written by the trainer, committed or not
        for state in run_dir.glob("checkpoint*/state.json"):
            try:
                if json.loads(state.read_text())["next_rollout_id"] == 8:
                    return True
            except (OSError, ValueError):
                pass
        return False

    try:
        deadline = time.monotonic() + 300
        while not (marker.exists() and saved_after_7()):
            assert proc.poll() is None, "the run ended before the eval after rollout 7"
            assert time.monotonic() < deadline, "the run never reached the eval after rollout 7"
            time.sleep(0.05)
    finally:
        _kill_group(proc)
    assert rollout_ids(run_dir) == list(range(7))
    subprocess.run([sys.executable, str(script), "resume"], env=ENV, check=True, timeout=600, capture_output=True)
    assert rollout_ids(run_dir) == list(range(10))


@pytest.mark.parametrize("seed", [2**40, -1])
def test_a_seed_outside_numpys_range_is_one_config_error_before_anything(tmp_path, seed):
    """run_local from Python (not only the CLI's --seed): no numpy traceback, nothing created."""
    with pytest.raises(ConfigError, match="numpy's seed range"):
        run_local(tiny_config(tmp_path / "data", num_rollout=1), seed=seed, out_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()
