"""Runs inside Modal on a small CPU container: download -> prepare -> training attempts.

`launch()` spawns `pipeline` in the run's deployed app (`gym-<run>`) and returns, so the notebook,
kernel or laptop may go away.
The pipeline then

1. downloads the model and prepares the dataset (each idempotent, in its own function, spawned
   and watched every `POLL_S` so the lease keeps its heartbeat through a long download);
2. runs training *attempts*: before each, the checkpoint folder is repaired to its newest
   complete save (`checkpoints.prepare_resume`) and pruned to `keep_checkpoints`; the attempt
   (the clustered `train` function) resumes from there;
3. while an attempt runs, every `POLL_S` it heartbeats the run's lease, adds the price of the
   cluster's *started* containers to the money spent (each reports its start in the run's Dict;
   time queued for GPUs is not billed and not counted), prunes old complete saves, and asks the
   attempt to stop (`cluster.stop_key`) when the spend reaches `max_usd` (the checkpoint stays; a
   relaunch resumes);
4. when an attempt ends (or is stopped), it *settles* it (`settle_attempt`): it waits (up to
   `ACK_WAIT_S` plus a margin) until every container that started has committed its writes to
   the checkpoint volume and acknowledged it (`cluster.rank_key`; Megatron's rank 0, which writes
   the marker, can be on any container), then always ends the call
   (`cancel(terminate_containers=True)`: no container outlives its job), reloads the volume and
   compares the newest complete save with the iteration the job reported saving. A container
   that never acknowledged is named, and the saves it may still write to are kept, not deleted
   (`prepare_resume(delete_unfinished=False)`, `prune(settled=False)`); then `decide` says what
   is next: an attempt that ended with a new checkpoint is
   followed by another (Modal stops each function at 24 h; a failure after progress, e.g. a
   preemption or the memory creep of long colocated runs, also resumes); one that failed
   without a new checkpoint is not retried (it would fail the same way) and the run fails with
   the attempt's last log lines;
5. `spec["handover_after_s"]` (default `HANDOVER_AFTER_S`, before its own 24 h limit) after it
   started, it hands over to a fresh `pipeline` call with its state (and the wall-clock time of
   its last look, so the successor also counts the minutes in between), so attempts chain for as
   long as the run and its budget need. The successor is spawned through `Function.from_id` of
   this app's `pipeline`; with the run's app deployed (launcher.py) rather than run detached,
   this does not depend on what a detached `app.run` keeps alive (modal's cli/run.py warning).

For the smoke run, it collects the evidence of what only a real run can show (`smoke.CHECKLIST`:
launch accepted, pipeline alive across its calls, GPU request accepted, save complete, the
resumed stage's Megatron override line and new save, every container stopped, Ray joined without
auth) into the run's record, `record["checklist"]`, which `Run.status()` shows.

No way out of the pipeline leaves a training cluster running without it: every attempt's call is
ended once it is settled (a successful one too), and an attempt it lost contact with (get()
raising a client-side error does not mean the cluster stopped) is asked to stop and settled the
same way; an error or a cancellation of the pipeline itself cancels the attempt in flight.

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
"""The pipeline passes its state to a fresh call this long after it started (`spec["handover_after_s"]`
overrides it: the rehearsal hands over after seconds)."""
MAX_ATTEMPTS = 100
"""A backstop: attempts only continue after progress, and the budget stops them anyway."""
SETTLE_MARGIN_S = 5 * 60
"""The pipeline waits for the containers' acknowledgements this much longer than rank 0 does
(cluster.ACK_WAIT_S): rank 0's own wait, then its return, come first."""
COMMIT_POLL_S = 15
"""Seconds between looks while waiting for those acknowledgements."""
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
    """Money spent so far in US dollars: the training cluster's containers from the moment each
    started until the attempt's call was ended (time queued for GPUs is not billed), plus the
    pipeline's own CPU container."""

    usd: float
    cluster_usd_per_hour: float
    cpu_usd_per_hour: float
    max_usd: float

    def add(self, seconds: float, cluster: bool | float) -> None:
        """`seconds` of the pipeline, with `cluster` of the cluster running meanwhile (True or 1.0:
        all of it; 0.5: half its containers, or all of them half the time)."""
        rate = self.cpu_usd_per_hour + self.cluster_usd_per_hour * float(cluster)
        self.usd += rate * seconds / 3600

    def exhausted(self, ahead_s: float = POLL_S) -> bool:
        """Whether the budget would run out before the next look (so stop now, not after)."""
        return self.usd + (self.cluster_usd_per_hour + self.cpu_usd_per_hour) * ahead_s / 3600 >= self.max_usd


def cluster_share(starts: list[float], num_nodes: int, since: float, now: float) -> float:
    """The share of the cluster that ran between `since` and `now`: each started container counts
    from its own start (a container that reported no start has not started: not billed)."""
    if now <= since or not num_nodes:
        return 0.0
    return sum(max(0.0, now - max(since, t)) for t in starts) / (num_nodes * (now - since))


# ---- the Modal function ----------------------------------------------------------------------------

class ModalServices:
    """What the pipeline asks of Modal: the run registry (also where the attempts' containers
    report, cluster.rank_key), this app's functions (by object id), the checkpoint volume and
    function calls by id. `run_pipeline` takes any object with these attributes: tests pass plain
    ones (a dict registry, in-process calls), scripts/simulate_cluster.py local processes."""

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
    from gym.launch.cluster import ACK_WAIT_S, attempt_keys, end_key, rank_key, stop_key
    from gym.launch.runs import update
    from gym.launch.smoke import smoke_checklist

    started = time.monotonic()
    state = dict(state or {})
    registry, fns, ckpt_volume = services.registry, services.functions, services.volume
    name, holder, num_nodes = spec["name"], spec["lease"]["holder"], spec["num_nodes"]
    handover_after = float(spec.get("handover_after_s") or HANDOVER_AFTER_S)
    spend = Spend(usd=state.get("spent_usd", 0.0), cluster_usd_per_hour=spec["budget"]["usd_per_hour"],
                  cpu_usd_per_hour=spec["budget"]["cpu_usd_per_hour"], max_usd=spec["budget"]["max_usd"])
    ckpt_dir = spec["checkpoint_dir"]
    data_state = checkpoints.saves_data_state(spec["argv"])
    evidence = state.setdefault("evidence", {})
    # Wall-clock time, so a handed-over pipeline also counts the minutes between its
    # predecessor's last look and its own start (the cluster kept running meanwhile).
    clock = [state.get("spent_at") or time.time()]

    def note(key: str, ok: bool, fact: str) -> None:
        """Evidence for the smoke checklist (kept: a failure is not overwritten by a later success)."""
        if not (evidence.get(key) and not evidence[key]["ok"]):
            evidence[key] = {"ok": ok, "fact": fact[:300]}

    def entries() -> dict[int, dict]:
        """The current attempt's containers that reported (rank -> entry)."""
        aid = state.get("attempt_id")
        if not aid:
            return {}
        out = {}
        for r in range(num_nodes):
            entry = registry.get(rank_key(name, aid, r))
            if entry:
                out[r] = entry
        return out

    def beat(**fields) -> None:
        now = time.time()
        share = 0.0
        if state.get("attempt_live"):
            seen = entries()
            share = cluster_share([float(e["started"]) for e in seen.values() if e.get("started")],
                                  num_nodes, clock[0], now)
            if seen and "gpu" not in evidence:
                r, first = min(seen.items(), key=lambda kv: kv[1].get("started", now))
                note("gpu", True, f"rank {r} of attempt {state['attempts']} started at "
                     f"{time.strftime('%H:%M:%S UTC', time.gmtime(first.get('started', now)))} "
                     f"({spec['gpus_per_node']} GPUs per container)")
        spend.add(max(0.0, now - clock[0]), cluster=share)
        clock[0] = now
        if update(registry, name, holder, spent_usd=round(spend.usd, 4), checklist=smoke_checklist(evidence),
                  **fields) is None:
            raise LeaseLost(f"[gym] run {name} was cancelled, finished or taken over by another launch; "
                            "this pipeline stops")
        if fields:
            print(f"[gym] {name}: {fields.get('phase', '')} {fields.get('detail', '')} (~${spend.usd:,.2f} spent)",
                  flush=True)

    def finish(phase: str, detail: str, **fields) -> dict:
        calls = state.get("calls_watched", [])
        if calls:
            note("pipeline", True,
                 f"{len(calls)} spawned calls watched to their end ({', '.join(calls)}); "
                 f"{state.get('handovers', 0)} handover(s); run {phase}")
        beat(phase=phase, detail=detail, **fields)
        return {"run": name, "phase": phase, "detail": detail, "spent_usd": spend.usd,
                "checklist": smoke_checklist(evidence)}

    def stop_training() -> None:
        """Cancel the attempt in flight at once, if any (an error or a takeover: no waiting)."""
        call_id, state["train_call_id"] = state.get("train_call_id"), None
        if call_id:
            beat_spend_until_now()
            state["attempt_live"] = False
            try:
                services.call(call_id).cancel(terminate_containers=True)
            except Exception as err:  # already ended: nothing to cancel
                print(f"[gym] cancelling {call_id}: {type(err).__name__}: {err}", flush=True)

    def beat_spend_until_now() -> None:
        try:
            beat()
        except Exception:  # the spend is also counted by the caller's final record
            pass

    def watched(function: str) -> None:
        state.setdefault("calls_watched", []).append(function)

    def run_step(function: str, phase: str, detail: str) -> None:
        """Run a CPU step (download, prepare) inside Modal, heartbeating while it runs: a long
        download must not make the run look dead (LEASE_TTL_S) and free its name for a second launch."""
        beat(phase=phase, detail=detail)
        call = fns[function].spawn(spec)
        try:
            while True:
                try:
                    call.get(timeout=POLL_S)
                    watched(function)
                    return
                except TimeoutError:  # builtin: still running
                    beat(phase=phase, detail=detail)
        except BaseException:
            try:
                call.cancel(terminate_containers=True)
            except Exception:  # it already ended
                pass
            raise

    def settle_attempt(call, call_done: bool) -> tuple[int | None, str]:
        """End the attempt without losing a save (see the module docstring, step 4). Returns the
        newest complete save on the volume and a note on what was kept (empty when all is proven)."""
        aid, attempt = state["attempt_id"], state["attempts"]
        registry[stop_key(name, aid)] = {"why": "the pipeline settles the attempt"}  # a no-op once the job ended
        ack_wait_s = float(spec["ack_wait_s"]) if "ack_wait_s" in spec else ACK_WAIT_S + SETTLE_MARGIN_S
        deadline = time.monotonic() + ack_wait_s
        while True:
            seen = entries()
            acked = sorted(r for r, e in seen.items() if e.get("committed"))
            if len(acked) == num_nodes or time.monotonic() > deadline:
                break
            if call_done and all(e.get("committed") for e in seen.values()):
                break  # the call is over: a container that has not started by now never will
            beat(phase="training", detail=f"attempt {attempt} ended: waiting for {num_nodes - len(acked)} of "
                 f"{num_nodes} containers to commit the checkpoint volume")
            time.sleep(COMMIT_POLL_S)
        seen = entries()
        beat()  # the cluster's spend up to now: every container has stopped once the call is ended below
        state["attempt_live"] = False
        call_id, state["train_call_id"] = state.get("train_call_id"), None
        cancel_error = ""
        try:
            call.cancel(terminate_containers=True)
        except Exception as err:  # it already ended
            cancel_error = f" ({type(err).__name__})"
        end = registry.get(end_key(name, aid)) or {}
        unacked = [r for r in sorted(seen) if not seen[r].get("committed")]
        never = [r for r in range(num_nodes) if r not in seen]
        stopped = (f"attempt {attempt}: {len(seen) - len(unacked)} of {num_nodes} containers committed and "
                   f"acknowledged, then its call {call_id} was ended (cancel terminate_containers){cancel_error}")
        note("stopped", not unacked, stopped + (f"; ranks {unacked} never acknowledged" if unacked else ""))
        print(f"[gym] {stopped}" + (f"; ranks {never} never started" if never else ""), flush=True)
        if end.get("joined_line"):
            note("ray", "RAY_AUTH_MODE=disabled" in end["joined_line"], end["joined_line"])
        if attempt_stage() > 0 and end.get("status"):
            saved_new = [i for i in end.get("saved", []) if state.get("checkpoint_before") is None
                         or i > state["checkpoint_before"]]
            line = end.get("override_line", "")
            note("resume", bool(line and saved_new),
                 (line or "no Megatron '> overriding ...' line in the job's log")
                 + (f"; saved iteration {saved_new[-1]}" if saved_new else "; no new iteration saved"))
        ckpt_volume.reload()
        newest = checkpoints.newest_complete(ckpt_dir, data_state)
        reported = max(end.get("saved") or [-1])
        kept = ""
        if unacked:
            kept = (f"ranks {unacked} never acknowledged their commit within "
                    f"{ack_wait_s / 60:.0f} min: saves newer than {newest} are kept, not deleted "
                    "(not proven abandoned)")
            state["unproven"] = True
        else:
            state["unproven"] = False
        if reported >= 0:
            folder = checkpoints.iter_dir(ckpt_dir, reported)
            missing = checkpoints.missing_files(folder, data_state) if folder.is_dir() else ["the whole folder"]
            if not missing:
                line = f"checkpoint {folder.name} complete on the volume"
                note("save", True, line + f" (attempt {attempt}, every container acknowledged)" if not unacked
                     else line)
                print(f"[gym] {line}", flush=True)
            else:
                line = (f"the job reported saving iteration {reported}, but {folder.name} on the volume lacks "
                        f"{', '.join(missing[:3])}; the newest complete save is {newest}")
                note("save", False, line)
                print(f"[gym] {line}", flush=True)
        if kept:
            print(f"[gym] {kept}", flush=True)
        for key in attempt_keys(name, aid, num_nodes):  # this attempt's entries: written for this pipeline only
            try:
                registry.pop(key)
            except Exception:  # absent
                pass
        return newest, kept

    def attempt_stage() -> int:
        return state.get("stage", 0)

    def spawn_attempt(stage: int, stages: list) -> None:
        ckpt_volume.reload()
        resume = checkpoints.prepare_resume(ckpt_dir, data_state, delete_unfinished=not state.get("unproven"))
        checkpoints.prune(ckpt_dir, spec["keep_checkpoints"], data_state, settled=not state.get("unproven"))
        ckpt_volume.commit()
        print(f"[gym] {resume}", flush=True)
        state["resume"] = resume.iteration
        state["attempts"] = state.get("attempts", 0) + 1
        state["checkpoint_before"] = resume.iteration
        state["attempt_id"] = f"{holder}-{state['attempts']}"
        argv = attempt_argv(spec["argv"], stages[stage], resuming=resume.iteration is not None)
        call = fns["train"].spawn({**spec, "argv": argv,
                                   "attempt": {"id": state["attempt_id"], "number": state["attempts"]}})
        state["train_call_id"], state["attempt_live"] = call.object_id, True
        beat(phase="training", detail=f"stage {stage + 1}/{len(stages)}, attempt {state['attempts']}, "
             f"{stages[stage]} rollouts", attempt=state["attempts"], train_call_id=call.object_id,
             checkpoint=resume.iteration)

    handed_over = False
    try:
        if "launch" not in evidence:
            record = registry.get(name) or {}
            note("launch", True, f"the pipeline runs in app {record.get('app_id', '?')}, launched from "
                 f"{record.get('launched_from', 'a client that did not say where (launcher.py records launched_from)')}")
        if not state.get("data_ready"):
            run_step("download_model", "downloading", spec["model"]["repo"])
            run_step("prepare_dataset", "preparing", "dataset")
            state["data_ready"] = True
        stages = spec["stages"]
        while state.get("stage", 0) < len(stages):
            stage = state.get("stage", 0)
            if not state.get("train_call_id"):
                ckpt_volume.reload()
                resume_at = checkpoints.newest_complete(ckpt_dir, data_state)
                if stage > 0 and resume_at is None:
                    return finish("failed", f"stage {stage + 1} found no checkpoint to resume from")
                if resume_at is not None and resume_at >= stages[stage] - 1:
                    # slime would load it, find no rollout left (train.py: range(start, num_rollout))
                    # and exit: a whole cluster start-up for nothing, and for the smoke run's second
                    # stage a failure ("saved nothing new"). A relaunch of a finished run ends here.
                    print(f"[gym] stage {stage + 1}: checkpoint {resume_at} already covers "
                          f"{stages[stage]} rollouts; not training it again", flush=True)
                    state["stage"] = stage + 1
                    state["already_trained"] = resume_at
                    continue
                if spend.exhausted():
                    return finish("stopped", f"budget ${spend.max_usd:,.2f} reached before attempt "
                                  f"{state.get('attempts', 0) + 1}; relaunch with a higher max_usd to resume")
                spawn_attempt(stage, stages)
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
                if outcome is not None:
                    break
                ckpt_volume.reload()
                latest = checkpoints.latest_iteration(ckpt_dir)
                if checkpoints.prune(ckpt_dir, spec["keep_checkpoints"], data_state, settled=False):
                    ckpt_volume.commit()
                beat(phase="training", detail=f"stage {stage + 1}/{len(stages)}, attempt {state['attempts']}",
                     checkpoint=latest)
                if spend.exhausted():
                    newest, kept = settle_attempt(call, call_done=False)
                    return finish("stopped", f"spent ~${spend.usd:,.2f} of max_usd ${spend.max_usd:,.2f}; the "
                                  f"last complete checkpoint ({newest}) is kept: relaunch to resume"
                                  + (f"; {kept}" if kept else ""), checkpoint=newest)
                if time.monotonic() - started > handover_after:
                    state["spent_usd"], state["spent_at"] = spend.usd, clock[0]
                    state["handovers"] = state.get("handovers", 0) + 1
                    watched("pipeline (handed over)")
                    nxt = fns["pipeline"].spawn(spec, fn_ids, state)
                    handed_over = True
                    update(registry, name, holder, detail=f"pipeline handed over after {handover_after:.0f} s",
                           pipeline_call_id=nxt.object_id, checklist=smoke_checklist(evidence))
                    print(f"[gym] {name}: pipeline handed over to {nxt.object_id} after {handover_after:.0f} s",
                          flush=True)
                    return {"run": name, "phase": "handed over", "next": nxt.object_id}
            # A failed get() may mean only that this pipeline lost contact: settle_attempt asks the
            # job to stop, waits for every container's commit, then ends the call, also after a success.
            beat(phase="training", detail=f"attempt {state['attempts']} ended: waiting for every container's commit")
            newest, kept = settle_attempt(call, call_done=outcome.ok or not lost_contact(outcome.error))
            watched(f"train (attempt {state['attempts']})")
            outcome = Outcome(outcome.ok, outcome.error + (f"\n{kept}" if kept else ""),
                              state.get("checkpoint_before"), newest)
            beat(phase="training", detail=f"attempt {state['attempts']} {'ended' if outcome.ok else 'failed'}",
                 checkpoint=newest)
            step = decide(outcome, stage, len(stages), state["attempts"])
            if step == "fail":
                message = failure_message(outcome, state["attempts"])
                return finish("failed", message.splitlines()[0], error=message, checkpoint=newest)
            if step == "retry":
                print(f"[gym] attempt {state['attempts']} stopped after progress (checkpoint {newest}): "
                      f"resuming\n{outcome.error}", flush=True)
                continue
            state["stage"] = stage + 1
        latest = checkpoints.newest_complete(ckpt_dir, data_state)
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
        note("pipeline", False, f"the pipeline itself failed: {type(err).__name__}: {err}")
        if not handed_over:
            stop_training()
        if isinstance(err, Exception):
            update(registry, name, holder, phase="failed", detail=f"{type(err).__name__}: {err}"[:500],
                   error=f"{type(err).__name__}: {err}", spent_usd=round(spend.usd, 4),
                   checklist=smoke_checklist(evidence))
        raise


def lost_contact(error: str) -> bool:
    """Whether a failed get() says only that this pipeline lost contact with the call (modal's
    client-side errors), so the call may still be running."""
    return error.split(":", 1)[0] in ("ConnectionError", "ClientClosed", "StreamTerminatedError", "GRPCError",
                                      "OSError", "ConnectionResetError")


class LeaseLost(RuntimeError):
    """Another launch took over this run's name: stop without touching its cluster."""
