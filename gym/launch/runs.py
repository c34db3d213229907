"""Runs on Modal by name: the lease that allows one cluster per run name, and the `Run` handle.

Every launch writes a record under its run name in one Modal Dict, `gym-runs` (`REGISTRY`), and
the pipeline inside Modal keeps it current: phase, attempt, money spent, the latest checkpoint,
a heartbeat. The record *is* the lease:

- a launch takes it with an atomic put-if-absent; a second launch of the same run name while the
  first is alive is refused, naming the first and how to attach to or cancel it;
- a record whose run finished, was cancelled or stopped, or whose heartbeat is older than
  `LEASE_TTL_S` (the pipeline died) is taken over, again atomically: the taker creates the key
  `<name>#after#<holder>` for the holder it replaces, which only one launch can do.

While the image builds and the app deploys (minutes, on a first launch maybe longer), the name is
held by a short *claim*: the same record in phase "building", heartbeated every HEARTBEAT_S by
the launching process itself and live for `CLAIM_TTL_S` only. A long build therefore never shows
the run as "lost" and cannot lose its name to a second launch; a launcher that dies mid-build
(a closed laptop, a dead kernel) frees the name within CLAIM_TTL_S. Once the app exists the
claim becomes the lease proper (phase "launching", with the app id), which the pipeline
heartbeats from then on (see launcher.start).

A finished phase (`FINISHED`: succeeded, failed, cancelled, stopped) is final. `update` writes it
first under its own key, `final_key(name, holder)`, with an atomic put-if-absent, so exactly one
finish wins (a cancel racing the pipeline's own end) and no later heartbeat can undo it: readers
(`read_record`) let that key win over the main record, `update` refuses to write once it exists,
and a heartbeat whose write raced a finish puts the final record back. modal.Dict offers no
compare-and-set, only put-if-absent (`put(..., skip_if_exists=True)`); this scheme needs no more.

`Run` is what `launch()` returns and `gym.attach(name)` gives back from any kernel: status, logs,
wait, cancel, checkpoints and the Modal dashboard link.

The lease functions work on any store with modal.Dict's semantics (`get`, `put(..., skip_if_exists=)`
returning whether it created the key, item assignment, `pop`): the real `modal.Dict` in
production; in unit tests a plain dict (put-if-absent through `setdefault`) or an in-memory
stand-in with the same `put`.
"""

from __future__ import annotations

import html
import time
import uuid
from dataclasses import dataclass
from typing import Any

REGISTRY = "gym-runs"
"""The Modal Dict that holds one record per run name (in the launching workspace/environment)."""
LEASE_TTL_S = 15 * 60
"""A live run's pipeline heartbeats every HEARTBEAT_S; a record this old belongs to a dead run."""
HEARTBEAT_S = 30
CLAIM_TTL_S = 4 * HEARTBEAT_S
"""A launch's "building" claim lives this long without a heartbeat (its launcher beats every
HEARTBEAT_S while the image builds): four missed beats mean the launching process is gone."""
BUILDING = "building"
"""The phase of a claim: the name is held while the launch builds and deploys its app."""
FINISHED = ("succeeded", "failed", "cancelled", "stopped")
"""Phases after which the run name is free again; each is final (see final_key)."""


class LeaseHeld(RuntimeError):
    """Another live launch holds the run name."""

    def __init__(self, record: dict):
        self.record = record
        super().__init__(describe_holder(record))


def _put_new(store: Any, key: str, value: dict) -> bool:
    """Atomic put-if-absent: True if this call created the key."""
    if isinstance(store, dict):
        return store.setdefault(key, value) is value
    return bool(store.put(key, value, skip_if_exists=True))


def ttl_of(record: dict, ttl_s: float = LEASE_TTL_S) -> float:
    """How long `record` holds its name without a heartbeat: CLAIM_TTL_S for a building claim."""
    return min(ttl_s, CLAIM_TTL_S) if record.get("phase") == BUILDING else ttl_s


def is_live(record: dict | None, now: float, ttl_s: float = LEASE_TTL_S) -> bool:
    """Whether a record still holds its run name: not finished and heartbeating."""
    if not record:
        return False
    if record.get("phase") in FINISHED:
        return False
    return now - float(record.get("heartbeat", 0.0)) <= ttl_of(record, ttl_s)


def final_key(name: str, holder: str) -> str:
    """Where the finished phase of `holder`'s launch of `name` is written, once."""
    return f"{name}#final#{holder}"


def read_record(store: Any, name: str) -> dict | None:
    """The run's record as every reader must see it: its final record, once one was written,
    wins over whatever a heartbeat wrote to the main record."""
    record = store.get(name)
    if not record:
        return record
    return store.get(final_key(name, record.get("holder", ""))) or record


def acquire(store: Any, name: str, record: dict, now: float | None = None, ttl_s: float = LEASE_TTL_S) -> dict:
    """Take the lease on `name` with `record` (which gets a fresh `holder`); raise LeaseHeld if a
    live launch has it. Returns the stored record."""
    now = time.time() if now is None else now
    mine = {**record, "name": name, "holder": uuid.uuid4().hex, "heartbeat": now,
            "started": record.get("started", now)}
    for _ in range(3):  # a record can vanish or change between our reads; settle in a few rounds
        if _put_new(store, name, mine):
            return mine
        current = read_record(store, name)
        if current is None:
            continue
        if is_live(current, now, ttl_s):
            raise LeaseHeld(current)
        # Finished or dead: exactly one launch may replace this holder.
        if _put_new(store, takeover_key(name, current.get("holder", "")), mine["holder"]):
            if current.get("phase") not in FINISHED and current.get("app_id"):
                # Its pipeline died, but an attempt it started may still be training (up to 24 h,
                # with nothing bounding its cost) into the folder this launch will use: the
                # launcher stops that app before it creates anything (launcher.take_lease).
                mine["replaced_app_id"] = current["app_id"]
            store[name] = mine
            return mine
        raise LeaseHeld(store.get(name) or current)  # another launch took it over first
    raise LeaseHeld(store.get(name) or {"name": name})


def takeover_key(name: str, holder: str) -> str:
    return f"{name}#after#{holder}"


def update(store: Any, name: str, holder: str, now: float | None = None, **fields: Any) -> dict | None:
    """Heartbeat the lease and set fields, if `holder` still holds it and its run is not finished.
    Returns the new record, or None when another launch has taken the name over or the run's
    phase is already final (cancelled, failed, ...): the caller should stop.

    A finished phase in `fields` is written first under `final_key` (put-if-absent): if another
    finish got there first, this one is refused (None) and the first stands."""
    key = final_key(name, holder)
    if store.get(key) is not None:
        return None
    current = store.get(name)
    if not current or current.get("holder") != holder:
        return None
    new = {**current, **fields, "heartbeat": time.time() if now is None else now}
    if new.get("phase") in FINISHED:
        if not _put_new(store, key, new):
            return None
        store[name] = new
        return new
    store[name] = new
    final = store.get(key)
    if final is not None:  # a finish (a cancel) landed between our read and our write: put it back
        store[name] = final
        return None
    return new


def release(store: Any, name: str, holder: str) -> None:
    """Free the name if `holder` still holds it (a launch that failed before its pipeline started)."""
    current = store.get(name)
    if current and current.get("holder") == holder:
        store.pop(name, None)


def describe_holder(record: dict) -> str:
    """The refusal for a second launch: who runs, where to look, how to attach or cancel."""
    name = record.get("name", "?")
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.get("started", 0)))
    return (f"not launched, nothing was created: run {name!r} is already running (launched {started}, "
            f"phase: {record.get('phase', '?')}, app {record.get('app_id', '?')})\n"
            f"  - watch it:  gym.attach({name!r}).status()   dashboard: {record.get('dashboard_url', '?')}\n"
            f"  - stop it:   gym.attach({name!r}).cancel()   (its checkpoint stays; a later launch resumes)\n"
            f"  - or launch under another name: config.replace(name=...)")


# ---- the handle ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RunStatus:
    """A run's state as its record says, checked against its heartbeat."""

    name: str
    phase: str
    """building, launching, downloading, preparing, training, succeeded, failed, cancelled, stopped, lost."""
    detail: str
    spent_usd: float
    max_usd: float
    attempt: int
    checkpoint: int | None
    dashboard_url: str
    """The Modal dashboard page of the run's app (behind the workspace's login)."""
    heartbeat_age_s: float
    checklist: tuple = ()
    """The smoke checklist the pipeline keeps in the record (smoke.smoke_checklist): one dict per
    item, with its status (confirmed, failed, not reached) and evidence."""

    @property
    def done(self) -> bool:
        return self.phase in (*FINISHED, "lost")

    def __str__(self) -> str:
        ckpt = f"checkpoint {self.checkpoint}" if self.checkpoint is not None else "no checkpoint yet"
        text = (f"{self.name}: {self.phase}" + (f" ({self.detail})" if self.detail else "")
                + f"\n  spent ~${self.spent_usd:,.2f} of ${self.max_usd:,.2f}; attempt {self.attempt}; {ckpt}"
                + f"\n  dashboard: {self.dashboard_url}")
        if self.checklist:
            from gym.launch.smoke import format_checklist

            text += "\n" + format_checklist(list(self.checklist))
        return text


def status_from_record(record: dict, now: float) -> RunStatus:
    age = now - float(record.get("heartbeat", 0.0))
    phase, detail = record.get("phase", "?"), record.get("detail", "")
    if phase == BUILDING and age > ttl_of(record):
        phase, detail = "lost", (f"no heartbeat for {age / 60:.0f} min while its app was being built: the launching "
                                 "process stopped before the pipeline started; launch again")
    elif phase not in FINISHED and age > LEASE_TTL_S:
        phase, detail = "lost", f"no heartbeat for {age / 60:.0f} min: the pipeline died; relaunch to resume"
    return RunStatus(name=record.get("name", "?"), phase=phase, detail=detail,
                     spent_usd=float(record.get("spent_usd", 0.0)), max_usd=float(record.get("max_usd", 0.0)),
                     attempt=int(record.get("attempt", 0)), checkpoint=record.get("checkpoint"),
                     dashboard_url=record.get("dashboard_url", ""), heartbeat_age_s=age,
                     checklist=tuple(record.get("checklist") or ()))


def _registry():
    import modal

    return modal.Dict.from_name(REGISTRY, create_if_missing=True)


class Run:
    """A launched run on Modal, by name. `gym.attach(name)` gives the same handle from any kernel."""

    def __init__(self, name: str, record: dict | None = None):
        self.name = name
        self._record = record

    # ---- reading --------------------------------------------------------------------------------
    def record(self) -> dict:
        """The run's current record in the registry (raises KeyError if it was never launched)."""
        record = read_record(_registry(), self.name)
        if record is None:
            raise KeyError(f"no run named {self.name!r} in the Modal Dict {REGISTRY!r} "
                           "(launch it first, or check the Modal environment)")
        self._record = record
        return record

    @property
    def dashboard_url(self) -> str:
        """The Modal dashboard page of the run's app."""
        return (self._record or self.record()).get("dashboard_url", "")

    def status(self) -> RunStatus:
        record = self.record()
        return status_from_record(record, time.time())

    def logs(self, tail: int = 100) -> str:
        """The last `tail` log lines of the run's app (pipeline and training containers)."""
        import modal

        record = self.record()
        app = modal.App.lookup(record.get("app_id") or record["app_name"])  # by name while it still builds
        return "".join(entry.message for entry in app.logs.tail(tail))

    def checkpoints(self) -> list[int]:
        """Saved iterations on the run's checkpoint volume, oldest first."""
        import modal

        from gym.launch.checkpoints import _ITER

        volume = modal.Volume.from_name(f"{self.name}-checkpoints")
        try:
            entries = volume.listdir(f"/{self.name}")
        except Exception:  # no volume or no folder yet: nothing saved
            return []
        names = [e.path.rstrip("/").rsplit("/", 1)[-1] for e in entries]
        return sorted(int(m.group(1)) for n in names if (m := _ITER.match(n)))

    # ---- acting ---------------------------------------------------------------------------------
    def wait(self, poll_s: float = 30.0, timeout_s: float | None = None, echo: bool = True) -> RunStatus:
        """Block until the run ends; print each change of phase. Returns the final status;
        raises RuntimeError if it failed (the message holds the last log lines)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = None
        while True:
            st = self.status()
            if echo and (st.phase, st.detail) != last:
                print(f"[gym] {st.name}: {st.phase}" + (f" ({st.detail})" if st.detail else ""), flush=True)
                last = (st.phase, st.detail)
            if st.done:
                if st.phase in ("failed", "lost"):
                    raise RuntimeError(f"run {self.name} {st.phase}: {st.detail}\n"
                                       f"{self._record.get('error', '')}".rstrip())
                return st
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.name} still {st.phase} after {timeout_s:.0f} s (it keeps running)")
            time.sleep(poll_s)

    def cancel(self) -> RunStatus:
        """Stop the run now (see cancel_run); checkpoints stay on the volume, so a later launch of
        the same config resumes."""
        cancel_run(_registry(), self.name, ModalStopper())
        return self.status()

    # ---- showing --------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"Run({self.name!r})"

    def __str__(self) -> str:
        url = (self._record or {}).get("dashboard_url", "")
        return (f"run {self.name} on Modal (detached)\n  dashboard: {url}\n"
                f"  status:    gym.attach({self.name!r}).status()   (or python -m gym status {self.name})\n"
                f"  logs:      gym.attach({self.name!r}).logs(tail=100)\n"
                f"  stop:      gym.attach({self.name!r}).cancel()")

    def _repr_html_(self) -> str:
        url = html.escape((self._record or {}).get("dashboard_url", ""))
        name = html.escape(self.name)
        return (f"<b>{name}</b> launched on Modal (detached): <a href='{url}' target='_blank'>{url}</a><br>"
                f"<code>gym.attach({name!r}).status()</code> · <code>.logs(tail=100)</code> · "
                f"<code>.cancel()</code>")


def cancel_run(store: Any, name: str, stopper) -> dict:
    """Stop the run `name`. Its phase becomes "cancelled" first, and that is final (see final_key):
    the pipeline and the training cluster's watcher stop at their next look even if a stop below
    fails. Then the training call, the pipeline call and the run's deployed app are stopped
    (`stopper.call(id)`, `stopper.app(id or name)`); stopping the app terminates every container
    still in it. Returns the record as it stood before."""
    record = read_record(store, name)
    if record is None:
        raise KeyError(f"no run named {name!r} in the Modal Dict {REGISTRY!r}")
    if record.get("phase") not in FINISHED:
        update(store, name, record["holder"], phase="cancelled", detail="cancelled by the user")
    for key in ("train_call_id", "pipeline_call_id"):
        if record.get(key):
            stopper.call(record[key])
    # By id (the deployment this launch made); by name if the launch was interrupted before it
    # recorded the id (the name is this run's: it holds the lease).
    app = record.get("app_id") or record.get("app_name")
    if app:
        stopper.app(app)
    return record


class ModalStopper:
    """What cancel_run asks of Modal."""

    def call(self, call_id: str) -> None:
        import modal

        try:
            modal.FunctionCall.from_id(call_id).cancel(terminate_containers=True)
        except Exception as err:  # already finished: nothing to cancel
            print(f"[gym] {call_id}: {err}")

    def app(self, app: str) -> None:
        """The same call as `modal app stop` (modal/cli/app.py: AppStop), by app id or name."""
        import modal
        from modal.exception import NotFoundError

        try:
            modal.App.lookup(app).stop()
        except NotFoundError:  # never deployed, or already stopped
            pass


def attach(name: str) -> Run:
    """The handle of a run launched earlier (from any kernel or machine of the same workspace)."""
    run = Run(name)
    run.record()
    return run
