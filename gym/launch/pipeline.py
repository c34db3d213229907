"""Runs inside Modal on a small CPU container: download -> prepare -> training attempts.

`launch()` spawns `pipeline` detached and returns, so the notebook, kernel or laptop may go away.
The pipeline then

1. downloads the model and prepares the dataset (each idempotent, in its own function, spawned
   and watched every `POLL_S` so the lease keeps its heartbeat through a long download);
2. runs training *attempts*: before each, the checkpoint folder is repaired to its newest
   complete save (`checkpoints.prepare_resume`) and pruned to `keep_checkpoints`; the attempt
   (the clustered `train` function) resumes from there;
3. while an attempt runs, every `POLL_S` it heartbeats the run's lease, adds the cluster's price
   to the money spent, prunes old saves, and cancels the attempt when the spend reaches
   `max_usd` (the checkpoint stays; a relaunch resumes);
4. after an attempt it waits (up to `COMMIT_WAIT_S`) until the newest save is complete on the
   volume, since nodes commit their shards as their containers shut down (a killed one only then);
   then `decide` says what is next: an attempt that ended with a new checkpoint is
   followed by another (Modal stops each function at 24 h; a failure after progress, e.g. a
   preemption or the memory creep of long colocated runs, also resumes); one that failed
   without a new checkpoint is not retried (it would fail the same way) and the run fails with
   the attempt's last log lines;
5. before its own 24 h limit it hands over to a fresh `pipeline` call with its state (and the
   wall-clock time of its last look, so the successor also counts the minutes in between), so
   attempts chain for as long as the run and its budget need.

No way out of the pipeline leaves a training cluster running without it: a failed attempt, an
attempt it lost contact with (get() raising a client-side error does not mean the cluster
stopped), an error or a cancellation of the pipeline itself all cancel the attempt in flight.

`spec["stages"]` lists num_rollout per stage (normally one stage, the config's). The smoke run has
two: 2 rollouts, then 3, which resumes the first stage's checkpoint and proves resume works.

Only `ModalServices` touches Modal; `run_pipeline` gets it passed in (tests pass plain objects),
and `decide`, `with_num_rollout` and `Spend` are plain logic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from gym.launch.runs import HEARTBEAT_S

POLL_S = HEARTBEAT_S
"""Seconds between looks at a running attempt (heartbeat, budget, pruning)."""
PIPELINE_TIMEOUT_S = 24 * 3600
"""Modal's longest function timeout, for the pipeline itself."""
HANDOVER_AFTER_S = PIPELINE_TIMEOUT_S - 30 * 60
"""The pipeline passes its state to a fresh call this long after it started."""
MAX_ATTEMPTS = 100
"""A backstop: attempts only continue after progress, and the budget stops them anyway."""
COMMIT_WAIT_S = 15 * 60
"""After an attempt, wait up to this long for its newest save to be complete on the
volume: the other nodes commit their shards as their containers shut down, which for a large
model (a Qwen3-4B save is ~56 GB, a quarter of it per node on 4 nodes) can take minutes. A save
still incomplete after that is given up (the resume falls back to the one before)."""
COMMIT_POLL_S = 15
"""Seconds between looks while waiting for those commits (only the pipeline runs meanwhile)."""
PIPELINE_CPU = 1.0
PIPELINE_MEMORY_MIB = 2048


@dataclass(frozen=True)
class Outcome:
    """How one training attempt ended."""

    ok: bool
    error: str = ""
    """The attempt's error (the training function puts the job's last log lines in it)."""
    checkpoint_before: int | None = None
    checkpoint_after: int | None = None

    @property
    def progressed(self) -> bool:
        """A new checkpoint was written during the attempt."""
        return self.checkpoint_after is not None and (self.checkpoint_before is None
                                                      or self.checkpoint_after > self.checkpoint_before)


def decide(outcome: Outcome, stage: int, num_stages: int, attempts: int) -> str:
    """What follows an attempt: "next_stage", "done", "retry" (resume) or "fail"."""
    if outcome.ok:
        if stage > 0 and not outcome.progressed:  # a resumed stage must add a save, or resume is unproven
            return "fail"
        return "next_stage" if stage + 1 < num_stages else "done"
    if outcome.progressed and attempts < MAX_ATTEMPTS:
        return "retry"
    return "fail"


def failure_message(outcome: Outcome, attempts: int) -> str:
    if outcome.ok:
        return (f"attempt {attempts} resumed from checkpoint {outcome.checkpoint_before} but saved nothing new "
                f"(latest: {outcome.checkpoint_after}): resuming did not continue the run")
    why = ("it wrote no new checkpoint, so a retry would repeat it" if not outcome.progressed
           else f"{attempts} attempts reached the limit of {MAX_ATTEMPTS}")
    return f"attempt {attempts} failed and is not retried ({why}):\n{outcome.error}"


def with_num_rollout(argv: list[str], num_rollout: int) -> list[str]:
    """The slime argv with `--num-rollout` set to this stage's value."""
    out = list(argv)
    i = out.index("--num-rollout")
    out[i + 1] = str(num_rollout)
    return out


OVERRIDE_SCHEDULER_FLAG = "--override-opt_param-scheduler"
"""Megatron's flag to take the LR/WD schedule from the arguments rather than check it against the
checkpoint's. Without it, loading a save made with another num_rollout fails: slime derives
`train_iters` (so `lr_decay_steps` and `wd_incr_steps`) from num_rollout (slime
megatron_utils/model.py `get_optimizer_param_scheduler`), and Megatron's
`OptimizerParamScheduler.load_state_dict` asserts each equals the checkpoint's unless this flag
(or --use-checkpoint-opt_param-scheduler) is given (megatron/core/optimizer_param_scheduler.py
`_check_and_set`; both default to False)."""


def attempt_argv(argv: list[str], num_rollout: int, resuming: bool) -> list[str]:
    """The argv of one attempt: this stage's num_rollout and, when it resumes a save, the
    scheduler override, so that a resume with another num_rollout (the smoke run's second stage,
    or a relaunch with more rollouts) loads instead of failing Megatron's check. For a resume
    with the same num_rollout the values agree and the flag changes nothing."""
    out = with_num_rollout(argv, num_rollout)
    if resuming and OVERRIDE_SCHEDULER_FLAG not in out:
        out.append(OVERRIDE_SCHEDULER_FLAG)
    return out


@dataclass
class Spend:
    """Money spent so far in US dollars: the training cluster while an attempt is requested or
    running (start-up included), plus the pipeline's own CPU container."""

    usd: float
    cluster_usd_per_hour: float
    cpu_usd_per_hour: float
    max_usd: float

    def add(self, seconds: float, cluster: bool) -> None:
        rate = self.cpu_usd_per_hour + (self.cluster_usd_per_hour if cluster else 0.0)
        self.usd += rate * seconds / 3600

    def exhausted(self, ahead_s: float = POLL_S) -> bool:
        """Whether the budget would run out before the next look (so stop now, not after)."""
        return self.usd + (self.cluster_usd_per_hour + self.cpu_usd_per_hour) * ahead_s / 3600 >= self.max_usd


# ---- the Modal function ----------------------------------------------------------------------------

class ModalServices:
    """What the pipeline asks of Modal: the run registry, this app's functions (by object id), the
    checkpoint volume and function calls by id. `run_pipeline` takes any object with these
    attributes: tests pass plain ones (a dict registry, in-process calls), as
    scripts/simulate_cluster.py does with `LocalHost` for the training containers."""

    def __init__(self, spec: dict, fn_ids: dict):
        import modal

        from gym.launch.runs import REGISTRY

        self.registry = modal.Dict.from_name(REGISTRY)
        self.functions = {k: modal.Function.from_id(v) for k, v in fn_ids.items()}
        self.volume = modal.Volume.from_name(spec["volumes"]["checkpoints"])

    def call(self, call_id: str):
        import modal

        return modal.FunctionCall.from_id(call_id)


def pipeline(spec: dict, fn_ids: dict, state: dict | None = None) -> dict:
    """The run, start to end (see the module docstring). `fn_ids` are the object ids of this
    app's functions (`modal.Function.from_id`); `state` is a handed-over pipeline's progress."""
    return run_pipeline(spec, fn_ids, state, ModalServices(spec, fn_ids))


def run_pipeline(spec: dict, fn_ids: dict, state: dict | None, services) -> dict:
    """`pipeline`'s body, with Modal behind `services` (see ModalServices)."""
    from gym.launch import checkpoints
    from gym.launch.runs import update

    started = time.monotonic()
    state = dict(state or {})
    registry, fns, ckpt_volume = services.registry, services.functions, services.volume
    name, holder = spec["name"], spec["lease"]["holder"]
    spend = Spend(usd=state.get("spent_usd", 0.0), cluster_usd_per_hour=spec["budget"]["usd_per_hour"],
                  cpu_usd_per_hour=spec["budget"]["cpu_usd_per_hour"], max_usd=spec["budget"]["max_usd"])
    ckpt_dir = spec["checkpoint_dir"]
    data_state = checkpoints.saves_data_state(spec["argv"])
    # Wall-clock time, so a handed-over pipeline also counts the minutes between its
    # predecessor's last look and its own start (the cluster kept running meanwhile).
    clock = [state.get("spent_at") or time.time()]

    def beat(**fields) -> None:
        now = time.time()
        spend.add(max(0.0, now - clock[0]), cluster=bool(state.get("train_call_id")))
        clock[0] = now
        if update(registry, name, holder, spent_usd=round(spend.usd, 4), **fields) is None:
            raise LeaseLost(f"[gym] run {name} was taken over by another launch; this pipeline stops")
        print(f"[gym] {name}: {fields.get('phase', '')} {fields.get('detail', '')} (~${spend.usd:,.2f} spent)",
              flush=True)

    def finish(phase: str, detail: str, **fields) -> dict:
        beat(phase=phase, detail=detail, **fields)
        return {"run": name, "phase": phase, "detail": detail, "spent_usd": spend.usd}

    def stop_training() -> None:
        """Cancel the attempt in flight, if any: no path out of the pipeline leaves a cluster running
        without the pipeline that bounds its cost."""
        call_id, state["train_call_id"] = state.get("train_call_id"), None
        if call_id:
            try:
                services.call(call_id).cancel(terminate_containers=True)
            except Exception as err:  # already ended: nothing to cancel
                print(f"[gym] cancelling {call_id}: {type(err).__name__}: {err}", flush=True)

    def run_step(function: str, phase: str, detail: str) -> None:
        """Run a CPU step (download, prepare) inside Modal, heartbeating while it runs: a long
        download must not make the run look dead (LEASE_TTL_S) and free its name for a second launch."""
        beat(phase=phase, detail=detail)
        call = fns[function].spawn(spec)
        try:
            while True:
                try:
                    call.get(timeout=POLL_S)
                    return
                except TimeoutError:  # builtin: still running
                    beat(phase=phase, detail=detail)
        except BaseException:
            try:
                call.cancel(terminate_containers=True)
            except Exception:  # it already ended
                pass
            raise

    handed_over = False
    try:
        if not state.get("data_ready"):
            run_step("download_model", "downloading", spec["model"]["repo"])
            run_step("prepare_dataset", "preparing", "dataset")
            state["data_ready"] = True
        stages = spec["stages"]
        while state.get("stage", 0) < len(stages):
            stage = state.get("stage", 0)
            if not state.get("train_call_id"):
                ckpt_volume.reload()
                resume = checkpoints.prepare_resume(ckpt_dir, data_state)
                checkpoints.prune(ckpt_dir, spec["keep_checkpoints"], data_state)
                ckpt_volume.commit()
                print(f"[gym] {resume}", flush=True)
                if stage > 0 and resume.iteration is None:
                    return finish("failed", f"stage {stage + 1} found no checkpoint to resume from")
                if resume.iteration is not None and resume.iteration >= stages[stage] - 1:
                    # slime would load it, find no rollout left (train.py: range(start, num_rollout))
                    # and exit: a whole cluster start-up for nothing, and for the smoke run's second
                    # stage a failure ("saved nothing new"). A relaunch of a finished run ends here.
                    print(f"[gym] stage {stage + 1}: checkpoint {resume.iteration} already covers "
                          f"{stages[stage]} rollouts; not training it again", flush=True)
                    state["stage"] = stage + 1
                    state["already_trained"] = resume.iteration
                    continue
                if spend.exhausted():
                    return finish("stopped", f"budget ${spend.max_usd:,.2f} reached before attempt "
                                  f"{state.get('attempts', 0) + 1}; relaunch with a higher max_usd to resume")
                state["attempts"] = state.get("attempts", 0) + 1
                state["checkpoint_before"] = resume.iteration
                argv = attempt_argv(spec["argv"], stages[stage], resuming=resume.iteration is not None)
                call = fns["train"].spawn({**spec, "argv": argv})
                state["train_call_id"] = call.object_id
                beat(phase="training", detail=f"stage {stage + 1}/{len(stages)}, attempt {state['attempts']}, "
                     f"{stages[stage]} rollouts", attempt=state["attempts"], train_call_id=call.object_id,
                     checkpoint=resume.iteration)
            call = services.call(state["train_call_id"])
            outcome = None
            while outcome is None:
                try:
                    call.get(timeout=POLL_S)
                    outcome = Outcome(ok=True)
                except TimeoutError:  # builtin: the attempt is still running
                    pass
                except Exception as err:  # the attempt failed (its message holds the last log lines) ...
                    outcome = Outcome(ok=False, error=f"{type(err).__name__}: {err}")
                ckpt_volume.reload()
                latest = checkpoints.latest_iteration(ckpt_dir)
                if outcome is None:
                    if checkpoints.prune(ckpt_dir, spec["keep_checkpoints"], data_state):
                        ckpt_volume.commit()
                    beat(phase="training", detail=f"stage {stage + 1}/{len(stages)}, attempt {state['attempts']}",
                         checkpoint=latest)
                    if spend.exhausted():
                        stop_training()
                        return finish("stopped", f"spent ~${spend.usd:,.2f} of max_usd ${spend.max_usd:,.2f}; "
                                      f"the last checkpoint ({latest}) is kept: relaunch to resume", checkpoint=latest)
                    if time.monotonic() - started > HANDOVER_AFTER_S:
                        state["spent_usd"], state["spent_at"] = spend.usd, clock[0]
                        nxt = fns["pipeline"].spawn(spec, fn_ids, state)
                        handed_over = True
                        update(registry, name, holder, detail="pipeline handed over (24 h limit)",
                               pipeline_call_id=nxt.object_id)
                        return {"run": name, "phase": "handed over", "next": nxt.object_id}
            if not outcome.ok:
                # ... or only this pipeline's wait for it did (a dropped connection): either way end
                # it before deciding, so a failed or retried attempt never leaves its cluster running.
                beat(phase="training", detail=f"attempt {state['attempts']} failed")
                stop_training()
            # Every node commits as its container shuts down (a killed one only then): wait until
            # the newest save is complete before judging the attempt or resuming.
            beat(phase="training", detail=f"attempt {state['attempts']} ended: waiting for its checkpoint to commit")
            state["train_call_id"] = None  # the cluster is gone: only the pipeline is paid while waiting
            latest = wait_for_commits(ckpt_volume, ckpt_dir, data_state, beat)
            outcome = Outcome(outcome.ok, outcome.error, state.get("checkpoint_before"), latest)
            beat(phase="training", detail=f"attempt {state['attempts']} {'ended' if outcome.ok else 'failed'}",
                 checkpoint=latest)
            state["train_call_id"] = None
            step = decide(outcome, stage, len(stages), state["attempts"])
            if step == "fail":
                message = failure_message(outcome, state["attempts"])
                return finish("failed", message.splitlines()[0], error=message, checkpoint=latest)
            if step == "retry":
                print(f"[gym] attempt {state['attempts']} stopped after progress (checkpoint {latest}): "
                      f"resuming\n{outcome.error}", flush=True)
                continue
            state["stage"] = stage + 1
        latest = checkpoints.latest_iteration(ckpt_dir)
        if not state.get("attempts") and state.get("already_trained") is not None:
            return finish("succeeded", f"already trained: checkpoint {latest} covers {stages[-1]} rollouts, nothing "
                          f"was run (to train again from the start, delete the volume "
                          f"{spec['volumes']['checkpoints']} or use another run name)", checkpoint=latest)
        return finish("succeeded", f"{stages[-1]} rollouts", checkpoint=latest)
    except LeaseLost as err:
        print(err, flush=True)
        stop_training()
        return {"run": name, "phase": "taken over"}
    except BaseException as err:
        if not handed_over:
            stop_training()
        if isinstance(err, Exception):
            update(registry, name, holder, phase="failed", detail=f"{type(err).__name__}: {err}"[:500],
                   error=f"{type(err).__name__}: {err}", spent_usd=round(spend.usd, 4))
        raise


def wait_for_commits(volume, ckpt_dir: str, data_state: bool, beat) -> int | None:
    """The newest marked save once it is complete on the volume, or once COMMIT_WAIT_S have passed
    (then the resume check falls back past it). Heartbeats while waiting."""
    from gym.launch import checkpoints

    deadline = time.monotonic() + COMMIT_WAIT_S
    while True:
        volume.reload()
        latest = checkpoints.latest_iteration(ckpt_dir)
        if latest is None or time.monotonic() > deadline:
            return latest
        missing = checkpoints.missing_files(checkpoints.iter_dir(ckpt_dir, latest), data_state)
        if not missing:
            return latest
        beat(phase="training", detail=f"waiting for checkpoint {latest} to commit ({len(missing)} files to come)")
        time.sleep(COMMIT_POLL_S)


class LeaseLost(RuntimeError):
    """Another launch took over this run's name: stop without touching its cluster."""
