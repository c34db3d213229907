"""run_local(): the same SlimeConfig, run for real on this machine with a tiny model.

Colocated configs run in this process: rollout, then training, in turn (slime's train.py);
no Ray. Configs with `colocate=False` run a Generator and a Trainer as two Ray actors that
overlap: rollout k+1 is generated while rollout k trains, and weights are pushed every
`update_weights_interval` rollouts (slime's train_async.py, step for step).

Every rollout appends a row to runs/<name>/metrics.jsonl (and W&B when configured, offline
without a key); phases go to timeline.jsonl; checkpoints every `save_interval` rollouts let
`resume=True` continue a killed run with no rollout lost or repeated.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from gym.errors import UserError
from gym.local.history import History
from gym.local.rewards import REWARD_TIMEOUT_S

DEFAULT_RUNS_DIR = "runs"
TOKENIZER_MERGES = 0
WANDB_INIT_TIMEOUT_S = 10.0
"""How long a local run waits for W&B online before logging offline instead (with a message): W&B's
own default is 90 s, then a CommError traceback (measured offline: 104 s). A local run's metrics
matter more than their upload, which `wandb sync` does later."""
"""BPE merges learned on the dataset's text on top of its characters: shorter sequences
(faster), while digits stay single tokens."""


def should_run_periodic_action(rollout_id: int, interval: int | None, num_rollout: int | None = None) -> bool:
    """slime's rule (slime/utils/misc.py): every `interval` rollouts (counting from 1), and at the
    last rollout when given. slime also acts at epoch boundaries, but only when --num-rollout is
    unset (derived from --num-epoch); gym always sets num_rollout, so on slime as here, saves and
    evals do not follow epochs."""
    if not interval:  # None, or 0 (gym's "eval off", never passed to slime): never
        return False
    if num_rollout is not None and rollout_id == num_rollout - 1:
        return True
    return (rollout_id + 1) % interval == 0


def local_notes(config) -> list[str]:
    """What a local run says once at start: settings accepted that change nothing here."""
    from gym.local.flags import parse_extra_args

    notes = []
    flags = parse_extra_args(config.extra_args)
    if flags.no_local_meaning:
        notes.append("extra_args " + ", ".join(flags.no_local_meaning) + " (placement, speed, memory or logging) "
                     "has no local meaning: the local run computes the same numbers without it")
    if config.kl_coef and config.advantage_estimator in ("grpo", "gspo", "cispo"):
        notes.append(f"kl_coef={config.kl_coef} has no effect with advantage_estimator="
                     f"{config.advantage_estimator!r}: slime computes the KL to the reference and drops it "
                     "(get_grpo_returns), and so does the local run; use use_kl_loss with kl_loss_coef for a KL penalty")
    return notes


class JsonlLog:
    """Append-only JSONL file of rows keyed by rollout_id; on resume, rows from the restart point on
    are dropped first, so each rollout appears exactly once."""

    def __init__(self, path: Path, keep_before: int):
        self.path = path
        rows = []
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill
                    continue
                if row.get("rollout_id", -1) < keep_before:
                    rows.append(row)
        tmp = path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
        tmp.replace(path)

    def write(self, row: dict) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()

    def sync(self) -> None:
        """Make the rows written so far durable (before a checkpoint that counts them is committed)."""
        if self.path.exists():
            with self.path.open("rb") as f:
                os.fsync(f.fileno())


def _fingerprint(config, seed: int, model_dims: dict | None = None) -> str:
    from gym.slime.config import fingerprint

    data = fingerprint(config)
    data.pop("num_rollout", None)  # extending a run is a resume, not a new run
    key = [data, seed] + ([model_dims] if model_dims else [])  # unchanged for runs with the default model size
    return hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _tokenizer_texts(prompt_path: str, eval_path: str | None, config) -> list[str]:
    from gym.local.data import load_rows

    texts = ["user\n", "assistant\n", "system\n", "0123456789 .,-+=?!\n"]
    for path in filter(None, (prompt_path, eval_path)):
        for row in load_rows(path, config.dataset.input_key, config.dataset.label_key):
            prompt = row.prompt if isinstance(row.prompt, str) else "\n".join(m["content"] for m in row.prompt)
            texts.append(prompt + ("" if row.label is None else f"\n{row.label}"))
    return texts


def _device(device: str | None) -> str:
    import torch

    return device or ("cuda" if torch.cuda.is_available() else "cpu")


def run_local(config=None, *, seed: int = 0, resume: bool = False, out_dir: str | os.PathLike = DEFAULT_RUNS_DIR,
              num_rollout: int | None = None, threads: int | None = None, device: str | None = None,
              progress: bool = True, on_rollout=None, stop=None, model_dims: dict | None = None,
              reward_timeout_s: float = REWARD_TIMEOUT_S) -> History:
    """Run `config` (default: gym.local.tiny_config()) locally; return its History.

    seed: model init, prompt order and sampling. resume: continue from runs/<name>/checkpoint
    (the config, seed and data must match); False starts over (the old run is kept aside until the
    new one's first checkpoint, see gym.local.folder). num_rollout: override the config's.
    threads: torch threads per worker (default: colocated, the cores this process may run on; split,
    one per Ray worker: torch's default, a thread per core of the machine in every worker, oversubscribes
    the cores the two workers are pinned to, and a busy machine then slows them many times over).
    on_rollout(row): called after every rollout (the control panel streams with it).
    stop: a threading.Event; once set, the run ends after the current rollout (resume continues it).
    model_dims: toy model dimensions passed to build_model, e.g. {"hidden": 256, "layers": 4}
    (default: tiny_architecture's, hidden 64 and 2 layers).
    reward_timeout_s: the most seconds one reward call may take; a call over it is a RewardError
    naming the sample (see REWARD_TIMEOUT_S).
    """
    from gym.datasets import LocalDataset
    from gym.local import folder
    from gym.local.data import load_rows
    from gym.local.rewards import Scorer
    from gym.local.tiny import tiny_config

    config = config if config is not None else tiny_config()
    if num_rollout is not None:
        config = config.replace(num_rollout=num_rollout)
    config.validate()
    r = config.resolve()
    c = r.config
    from gym.errors import ConfigError
    from gym.local.flags import local_problems

    from gym.slime.rules import seed_problem

    problems = local_problems(c)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"seed={seed!r} must be an integer")
    if problem := seed_problem(seed):  # torch and numpy seed from it: numpy's range, refused by name
        problems = [*problems, problem]
    if problems:  # before anything is created
        raise ConfigError(problems, subject=f"local run of {r.name!r}")
    if not (isinstance(reward_timeout_s, (int, float)) and 0 < reward_timeout_s < float("inf")):
        raise UserError(f"reward_timeout_s={reward_timeout_s!r} must be a positive number of seconds")
    notes = local_notes(c)
    for note in notes:
        print(f"gym local: {note}", file=sys.stderr)
    Scorer(c)  # a reward that cannot load fails here, before any work
    run_dir = folder.run_folder(out_dir, r.name)
    if isinstance(r.dataset, LocalDataset):  # its rows are checked before anything is created or moved
        for path in filter(None, (r.dataset.source, r.dataset.eval_source)):
            load_rows(str(path), c.dataset.input_key, c.dataset.label_key)

    ckpt_dir = run_dir / "checkpoint"
    fingerprint = _fingerprint(config, seed, model_dims)
    run_dir.mkdir(parents=True, exist_ok=True)
    with folder.RunLock(run_dir):
        folder.clean_stale_tmp(run_dir)
        start = 0
        state = None
        if resume:
            state = folder.read_checkpoint_state(ckpt_dir)
            if state is None and folder.restore_previous(run_dir):  # a start over killed before its first save
                print(f"gym local: resuming the run kept aside in {run_dir / folder.PREVIOUS}", file=sys.stderr)
                state = folder.read_checkpoint_state(ckpt_dir)
            if state is not None:
                if state["fingerprint"] != fingerprint:
                    raise UserError(f"the checkpoint in {ckpt_dir} belongs to another config or seed; "
                                    "pass resume=False to start over or give the run another name")
                start = state["next_rollout_id"]
                folder.drop_previous(run_dir)  # a stale copy: this run has its own checkpoint
        if state is None:
            if resume:
                print(f"gym local: no checkpoint in {ckpt_dir}: starting {r.name!r} from rollout 0", file=sys.stderr)
            folder.keep_aside(run_dir)
        try:
            history = _run_in_folder(r, run_dir, state, start, fingerprint, notes,
                                     dict(seed=seed, model_dims=model_dims, reward_timeout_s=reward_timeout_s,
                                          threads=threads, device=_device(device)),
                                     progress, on_rollout, stop)
        except BaseException:
            if (run_dir / folder.PREVIOUS).exists() and not ckpt_dir.exists():
                folder.restore_previous(run_dir)  # a start that never saved leaves the folder as it found it
            raise
        folder.drop_previous(run_dir)
    return history


def _run_in_folder(r, run_dir: Path, state: dict | None, start: int, fingerprint: str, notes: list[str],
                   settings: dict, progress: bool, on_rollout, stop) -> History:
    """run_local, once the run folder is locked and ready: data, tokenizer, logs, the loop.
    settings: Setup's seed, model_dims, reward_timeout_s, threads (None: the default) and device."""
    from gym.local import folder
    from gym.local.data import data_digest, local_files
    from gym.local.tiny import build_tokenizer
    from gym.local.workers import Setup

    c = r.config
    ckpt_dir = run_dir / "checkpoint"

    prompt_path, eval_path = local_files(r.dataset, folder.inside(run_dir, run_dir / "data"))
    digest = data_digest(prompt_path, eval_path)
    if state is not None and state.get("data", digest) != digest:
        from gym.local.data import DataError

        raise DataError(f"the data changed since the checkpoint in {ckpt_dir}: {prompt_path}"
                        + (f" or {eval_path}" if eval_path else "") + " is not the file the run was trained on "
                        "(its SHA-256 differs); resuming would continue on other rows. Restore the file, or "
                        "start over (resume=False) or give the run another name")
    if start >= c.num_rollout:
        print(f"gym local: run {r.name!r} is finished: {start} of {c.num_rollout} rollouts done (raise num_rollout "
              "to extend it)", file=sys.stderr)
        return History.load(run_dir)
    tok_dir = folder.inside(run_dir, run_dir / "tokenizer")
    if not (start and tok_dir.exists()):
        build_tokenizer(_tokenizer_texts(prompt_path, eval_path, c), merges=TOKENIZER_MERGES).save_pretrained(tok_dir)

    split = not c.colocate
    threads = settings.pop("threads") or default_threads(split)
    setup = Setup(config=c, prompt_path=prompt_path, eval_path=eval_path, tokenizer_dir=str(tok_dir), threads=threads,
                  sys_path=tuple(sys.path), run_dir=str(run_dir), **settings)
    folder.inside(run_dir, run_dir / "run.json").write_text(json.dumps(
        {"name": r.name, "seed": setup.seed, "train_script": r.train_script, "fingerprint": fingerprint, "data": digest,
         "notes": notes}))
    metrics = JsonlLog(folder.inside(run_dir, run_dir / "metrics.jsonl"), keep_before=start)
    timeline = JsonlLog(folder.inside(run_dir, run_dir / "timeline.jsonl"), keep_before=start)
    logger = _Logger(c, r.name, run_dir, start, progress)

    def record(rollout_id: int, row: dict | None, spans: list[dict]) -> bool:
        """Log one rollout (row None: only more timeline spans); return True when the run should stop."""
        for s in spans:
            timeline.write(s)
        if row is not None:
            row = {"rollout_id": rollout_id, **row}
            metrics.write(row)
            logger.log(row)
            if on_rollout is not None:
                on_rollout(row)
        return stop is not None and stop.is_set()

    def commit(tmp: str) -> None:
        """Make a written checkpoint the run's: called after the row of its last rollout is written."""
        metrics.sync()
        folder.commit_checkpoint(run_dir, Path(tmp), ckpt_dir)
        folder.drop_previous(run_dir)  # the new run has its first checkpoint: the old one goes

    checkpoint = Checkpoint(str(ckpt_dir.with_name(f"checkpoint.tmp-{os.getpid()}")), fingerprint, digest, commit)
    try:
        loop = _split_loop if split else _colocated_loop
        loop(setup, start, str(ckpt_dir), checkpoint, record)
    finally:
        logger.close()
    return History.load(run_dir)


def default_threads(split: bool) -> int:
    """Torch threads per worker when run_local is not told: one per Ray worker when split (each
    worker is pinned to its own cores, and torch's default, a thread per core of the whole machine,
    oversubscribes them); colocated, the cores this process may run on."""
    if split:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@dataclass(frozen=True)
class Checkpoint:
    """Where the trainer writes a checkpoint (`tmp`), what it records, and how the driver commits it."""

    tmp: str
    fingerprint: str
    data: dict
    commit: object
    """commit(tmp): make the written checkpoint the run's (after the row of its last rollout is written)."""

    def state(self, next_rollout_id: int) -> dict:
        return {"next_rollout_id": next_rollout_id, "fingerprint": self.fingerprint, "data": self.data}


def worker_cpus() -> tuple[set[int] | None, set[int] | None]:
    """The cores of the rollout worker and of the trainer in the split layout: each its own half
    of this process's cores (None, None where affinity is unsupported or there is one core)."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    half = len(cores) // 2
    return (set(cores[:half]), set(cores[half:])) if half else (None, None)


class _pinned:
    """Run a block with this process pinned to `cpus` (restored after); no-op for None."""

    def __init__(self, cpus: set[int] | None):
        self.cpus, self.saved = cpus, None

    def __enter__(self):
        if self.cpus:
            self.saved = os.sched_getaffinity(0)
            os.sched_setaffinity(0, self.cpus)

    def __exit__(self, *exc):
        if self.saved:
            os.sched_setaffinity(0, self.saved)


def init_ray() -> None:
    """Start a local Ray for the split layout, tuned for a small machine.

    Ray runs its workers at nice 15 by default (to favour the driver); here the workers *are*
    the run, and at nice 15 they lose the CPU to Ray's own services and measurably slow down
    (60-75% per phase on 2 cores), so they get the driver's priority. No dashboard, no
    pre-started idle workers: both cost CPU the two workers need. A RAY_ADDRESS in the environment
    is ignored (with a note): the run is local by definition, and Ray would otherwise try to join
    that cluster and refuse the local settings. Objects up to 4 MiB (the tiny
    model's weights are about 0.3 MB) travel inline with the task instead of through the shared
    object store: 2 ms instead of 5 ms a push here. Once started, Ray's services are moved to the
    rollout worker's cores: in the tiny runs rollout is the shorter phase, so its cores have the
    slack, and the trainer's core, the critical path, is left to the trainer. (They are moved
    after the start, not started there: starting them all on one core takes twice as long.)
    """
    import ray

    if os.environ.get("RAY_ADDRESS"):
        print(f"gym local: RAY_ADDRESS={os.environ['RAY_ADDRESS']} is ignored: a local run starts its own Ray on this "
              "machine (gym's Modal launcher starts the cluster's)", file=sys.stderr)
    ray.init(address="local", num_cpus=max(2, os.cpu_count() or 2), include_dashboard=False, log_to_driver=True,
             logging_level="ERROR", configure_logging=False,
             _system_config={"worker_niceness": 0, "enable_worker_prestart": False,
                             "max_direct_call_object_size": 4 << 20})
    _pin_descendants(worker_cpus()[0])


def _pin_descendants(cpus: set[int] | None) -> None:
    """Set the CPU affinity of every thread of every process this one started (Linux only)."""
    if not cpus or not os.path.isdir("/proc/self/task"):
        return
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))  # fields[1]: the parent pid
    todo = list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                os.sched_setaffinity(int(tid), cpus)
        except OSError:  # gone meanwhile, or not ours
            continue


def _colocated_loop(setup, start: int, ckpt_dir: str, checkpoint: Checkpoint, record) -> None:
    from gym.local.workers import Generator, Trainer, span

    c = setup.config
    trainer = Trainer(setup, name="colocated")
    if start:
        trainer.load(ckpt_dir)
    generator = Generator(setup, model=trainer.model, name="colocated")
    skip_first_eval = generator.flags.get("skip_eval_before_train", False)
    for rollout_id in range(start, c.num_rollout):
        before = None
        if c.eval_interval and rollout_id == 0 and not skip_first_eval and generator.eval_rows:
            before = generator.evaluate(rollout_id, suffix="/before_train")  # slime's train.py: eval, then train
        began = time.time()
        out = generator.rollout(rollout_id)
        trained = trainer.train(out["rollout"], rollout_id)
        row = {**out["metrics"], **trained["metrics"], "perf/step_time": time.time() - began,
               "examples": out["examples"]}
        spans = [out["span"], trained["span"]]
        if before is not None:
            row.update(before["metrics"])
            spans.insert(0, before["span"])
        if should_run_periodic_action(rollout_id, c.eval_interval) and generator.eval_rows:
            ev = generator.evaluate(rollout_id)
            row.update(ev["metrics"])
            spans.append(ev["span"])
        stop = record(rollout_id, row, spans)
        # Committed after the row is written: a kill in between re-runs this rollout on resume (its row
        # is dropped and written again) instead of losing its row.
        if should_run_periodic_action(rollout_id, c.save_interval, c.num_rollout):
            t = time.time()
            trainer.save(checkpoint.tmp, checkpoint.state(rollout_id + 1))
            checkpoint.commit(checkpoint.tmp)
            record(rollout_id, None, [span("colocated", "save", rollout_id, t, time.time())])
        if stop:
            break


def _split_loop(setup, start: int, ckpt_dir: str, checkpoint: Checkpoint, record) -> None:
    """slime's train_async.py: generate rollout k+1 while training on k; sync weights every interval.

    The schedule is slime's, written as Ray task order and dependencies rather than as a driver
    that waits between steps, so that the driver is never on the critical path:
      - rollout k+1 starts once rollout k is done and training on k-1 is done (slime submits it
        at the top of iteration k, after `ray.get` of the training on k-1);
      - a weight push after training on k (when (k+1) % update_weights_interval == 0) reaches the
        generator after rollout k+1 and before rollout k+2 (slime: "sync generate before update
        params"): rollout k+2 is generated with the weights trained on rollouts 0..k;
      - a checkpoint after training on k is written before training on k+1 starts, and committed
        by the driver once the row of rollout k is written (so no checkpoint covers a rollout
        whose row could be lost; see gym.local.folder).
    A Ray actor runs the tasks one caller submits in submission order, which is what orders
    them. One difference from slime, in timing only: the trainer starts on k+1 as soon as it has
    handed its weights over, instead of waiting for the generator to load them.
    """
    import ray

    started_ray = not ray.is_initialized()
    if started_ray:
        init_ray()
    rollout_cpus, train_cpus = worker_cpus()
    try:
        with _pinned(rollout_cpus):  # the driver, too, stays off the trainer's core
            _split_schedule(setup, start, ckpt_dir, checkpoint, record, rollout_cpus, train_cpus)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, UserError):  # a bad reward or row: the user's error, not Ray's traceback
            raise err.cause.with_traceback(None) from None
        raise
    finally:
        if started_ray:
            ray.shutdown()


def _split_schedule(setup, start, ckpt_dir, checkpoint, record, rollout_cpus, train_cpus) -> None:
    import ray

    from gym.local.workers import Generator, Trainer, span

    c = setup.config
    n = c.num_rollout
    # Each worker on its own cores, like separate GPU pools: they must not time-share a core.
    trainer = ray.remote(num_cpus=1)(Trainer).remote(setup, "train", train_cpus)
    generator = ray.remote(num_cpus=1)(Generator).remote(setup, None, "rollout", rollout_cpus)
    if start:
        ray.get(trainer.load.remote(ckpt_dir))
    ray.get(generator.load_weights.remote(trainer.weights.remote()))  # as slime: push weights first

    def generate(k: int, after=None):
        """Rollout k: refs to (its tensors, the rest)."""
        return generator.rollout_parts.options(num_returns=2).remote(k, after)

    def train(k: int):
        """Training on rollout k: refs to (its result, the weights after it, or None when no push
        follows it). Handing the weights out in the same task saves a task per push."""
        if (k + 1) % c.update_weights_interval:
            return trainer.train.remote(rollouts[k][0], k), None
        return tuple(trainer.train_and_weights.options(num_returns=2).remote(rollouts[k][0], k))

    rollouts = {k: generate(k) for k in range(start, min(start + 2, n))}
    trains = {start: train(start)}
    last_end = time.time()
    for k in range(start, n):
        train_ref, weights_ref = trains[k]
        push = generator.load_weights.remote(weights_ref, k) if weights_ref is not None else None
        save = (trainer.save.remote(checkpoint.tmp, checkpoint.state(k + 1))
                if should_run_periodic_action(k, c.save_interval, n) else None)
        ev = generator.evaluate.remote(k) if should_run_periodic_action(k, c.eval_interval) else None
        if k + 1 < n:
            trains[k + 1] = train(k + 1)
        if k + 2 < n:
            rollouts[k + 2] = generate(k + 2, after=train_ref)

        info, trained = ray.get([rollouts.pop(k)[1], trains.pop(k)[0]])
        row = {**info["metrics"], **trained["metrics"], "examples": info["examples"]}
        spans = [info["span"], trained["span"]]
        if push is not None:
            spans.append(ray.get(push))
        if ev is not None:
            ev = ray.get(ev)
            row.update(ev["metrics"])
            spans.append(ev["span"])
        now = time.time()
        row["perf/step_time"] = now - last_end
        last_end = now
        stop = record(k, row, spans)
        if save is not None:  # written by the trainer meanwhile; committed after the row (see _colocated_loop)
            t = time.time()
            ray.get(save)
            checkpoint.commit(checkpoint.tmp)
            record(k, None, [span("train", "save", k, t, time.time())])
        if stop:
            break


class _Logger:
    """Progress bar (terminal or notebook) and W&B (offline when there is no key)."""

    def __init__(self, config, name: str, run_dir: Path, start: int, progress: bool):
        self.bar = None
        self.wandb_run = None
        if progress:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=config.num_rollout, initial=start, desc=name, unit="rollout")
        if config.wandb is not None:
            import wandb

            from gym.local.folder import inside

            mode = os.environ.get("WANDB_MODE") or ("online" if os.environ.get("WANDB_API_KEY") else "offline")
            from gym.secrets import redact

            safe = {k: redact(v) for k, v in vars(config).items() if k not in ("wandb", "dataset", "model")}
            kwargs = dict(project=config.wandb.project, group=config.wandb.group, entity=config.wandb.team, name=name,
                          dir=str(inside(run_dir, run_dir)), config=json.loads(json.dumps(safe, default=str)),
                          reinit="finish_previous")
            try:
                self.wandb_run = wandb.init(mode=mode, settings=wandb.Settings(init_timeout=WANDB_INIT_TIMEOUT_S),
                                            **kwargs)
            except wandb.errors.Error as err:
                if mode != "online":
                    raise
                print(f"gym local: W&B could not be reached within {WANDB_INIT_TIMEOUT_S:g} s "
                      f"({type(err).__name__}: {str(err).splitlines()[0][:160]}); logging offline to {run_dir}/wandb "
                      "instead (`wandb sync` uploads it later)", file=sys.stderr)
                self.wandb_run = wandb.init(mode="offline", **kwargs)

    def log(self, row: dict) -> None:
        if self.bar is not None:
            self.bar.set_postfix(reward=f"{row.get('rollout/raw_reward', float('nan')):.2f}")
            self.bar.update(1)
        if self.wandb_run is not None:
            self.wandb_run.log({k: v for k, v in row.items() if isinstance(v, (int, float))}, step=row["rollout_id"])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        if self.wandb_run is not None:
            self.wandb_run.finish()
