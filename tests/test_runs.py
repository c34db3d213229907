"""A run's name, lease and phases (gym.launch.runs) and the launch's order (launcher.start), offline.

The registry is `DictStore`: modal.Dict's documented semantics in memory (modal 1.6.4
`modal/dict.py`): `put(key, value, *, skip_if_exists=False)` returns True when it wrote and False
only when `skip_if_exists` found the key; `d[key] = v` is `put`; `get(key, default=None)`;
`pop(key[, default])` raises KeyError without a default; values are stored serialized, so a
caller's later change to its dict is not in the store. The app is a real RunApp built offline;
only deploy, upload and spawn (network calls) are done in process by `_Launch`.
"""

import pickle
import threading
import time
from types import SimpleNamespace

import pytest

from gym import SlimeConfig
from gym.launch import runs
from gym.launch.app import build_run_app
from gym.launch.budget import Budget, LaunchError

_MISSING = object()


class DictStore:
    """modal.Dict's semantics, in memory. `after_get(key)` / `after_put(key, value)`, when set, run
    after each read / write: a test interleaves a second writer there."""

    def __init__(self):
        self._data: dict = {}
        self._lock = threading.Lock()
        self.after_get = None
        self.after_put = None
        self.writes: list = []

    def get(self, key, default=None):
        with self._lock:
            raw = self._data.get(key)
        value = default if raw is None else pickle.loads(raw)
        if self.after_get:
            self.after_get(key)
        return value

    def put(self, key, value, *, skip_if_exists: bool = False) -> bool:
        with self._lock:
            if skip_if_exists and key in self._data:
                return False
            self._data[key] = pickle.dumps(value)
            self.writes.append((key, pickle.loads(self._data[key])))
        if self.after_put:
            self.after_put(key, value)
        return True

    def __setitem__(self, key, value):
        self.put(key, value)

    def __getitem__(self, key):
        with self._lock:
            return pickle.loads(self._data[key])

    def __contains__(self, key):
        with self._lock:
            return key in self._data

    def pop(self, key, default=_MISSING):
        with self._lock:
            if key in self._data:
                return pickle.loads(self._data.pop(key))
        if default is _MISSING:
            raise KeyError(key)
        return default


def test_the_store_has_modal_dicts_put_if_absent_semantics():
    store = DictStore()
    value = {"a": 1}
    assert store.put("k", value, skip_if_exists=True) is True
    value["a"] = 2  # stored serialized: the caller's later change is not in the store
    assert store.put("k", {"a": 3}, skip_if_exists=True) is False and store.get("k") == {"a": 1}
    assert store.put("k", {"a": 4}) is True and store["k"] == {"a": 4}
    assert store.pop("k") == {"a": 4} and store.pop("k", None) is None and store.get("k") is None
    with pytest.raises(KeyError):
        store.pop("k")


# ---- a finished phase is final (defect 8) --------------------------------------------------------

def test_a_heartbeat_racing_a_cancel_cannot_undo_it():
    """The pipeline's heartbeat reads the record, the user's cancel lands, the heartbeat writes:
    the run must stay cancelled, and the pipeline must be told to stop."""
    store = DictStore()
    lease = runs.acquire(store, "race", {"phase": "training"})
    holder = lease["holder"]

    def cancel_after_the_heartbeats_read(key):
        if key == "race":
            store.after_get = None
            assert runs.update(store, "race", holder, phase="cancelled", detail="cancelled by the user")

    store.after_get = cancel_after_the_heartbeats_read
    assert runs.update(store, "race", holder, phase="training", detail="attempt 1") is None  # told to stop
    assert store["race"]["phase"] == "cancelled"  # the heartbeat's write was put back
    assert runs.update(store, "race", holder, phase="training") is None  # and every later one refused
    assert store["race"]["phase"] == "cancelled"
    assert not runs.is_live(store["race"], time.time())
    assert runs.acquire(store, "race", {"phase": "launching"})["holder"] != holder  # the name is free


def test_a_cancel_landing_after_the_heartbeats_write_still_wins():
    store = DictStore()
    holder = runs.acquire(store, "late", {"phase": "training"})["holder"]

    def cancel_after_the_heartbeats_write(key, value):
        if key == "late" and value.get("phase") == "training":
            store.after_put = None
            runs.update(store, "late", holder, phase="cancelled")

    store.after_put = cancel_after_the_heartbeats_write
    assert runs.update(store, "late", holder, phase="training") is None
    assert runs.read_record(store, "late")["phase"] == store["late"]["phase"] == "cancelled"


def test_the_first_finish_stands():
    """The pipeline's own end and a user's cancel, in either order: the first one is the run's."""
    store = DictStore()
    holder = runs.acquire(store, "both", {"phase": "training"})["holder"]
    assert runs.update(store, "both", holder, phase="succeeded", detail="3 rollouts")
    assert runs.update(store, "both", holder, phase="cancelled") is None
    assert runs.read_record(store, "both")["phase"] == "succeeded"
    # A heartbeat that wrote past the key (a stale writer) is hidden from every reader.
    store["both"] = {**store["both"], "phase": "training"}
    assert runs.read_record(store, "both")["phase"] == "succeeded"
    assert runs.acquire(store, "both", {"phase": "launching"})  # finished: the name is free again


# ---- the building claim (defect 5) ---------------------------------------------------------------

def test_a_building_claim_is_short_lived_but_never_lost_while_it_beats():
    claim = {"name": "b", "phase": runs.BUILDING, "heartbeat": 1000.0}
    assert runs.status_from_record(claim, now=1000.0 + runs.CLAIM_TTL_S - 1).phase == runs.BUILDING
    lost = runs.status_from_record(claim, now=1000.0 + runs.CLAIM_TTL_S + 1)
    assert lost.phase == "lost" and "launch again" in lost.detail
    assert runs.is_live(claim, 1000.0 + runs.CLAIM_TTL_S - 1) and not runs.is_live(claim, 1000.0 + runs.CLAIM_TTL_S + 1)
    assert runs.CLAIM_TTL_S < runs.LEASE_TTL_S  # a dead launcher frees the name sooner than a dead pipeline


# ---- the launch's order (defects 3, 4, 5) --------------------------------------------------------

class _Launch:
    """launcher.start's Modal side in process: the registry, deploy, upload and spawn. Each step is
    recorded with the run's record as it stood; `during_deploy` / `spawn_raises` are hooks."""

    def __init__(self, during_deploy=None, spawn_raises=None):
        self.registry, self.events = DictStore(), []
        self.during_deploy, self.spawn_raises = during_deploy, spawn_raises

    def _record(self, name):
        return runs.read_record(self.registry, name)

    def deploy(self, run_app):
        name = run_app.spec["name"]
        self.events.append(("deploy", run_app.spec["app_name"], self._record(name)))
        if self.during_deploy:
            self.during_deploy(self, name)
        return "ap-deployed", "https://modal.com/id/ap-deployed"

    def upload(self, run_app):
        self.events.append(("upload", None, self._record(run_app.spec["name"])))

    def spawn(self, run_app, spec):
        self.events.append(("spawn", spec, self._record(run_app.spec["name"])))
        if self.spawn_raises:
            raise self.spawn_raises
        return SimpleNamespace(object_id="fc-pipeline")


def _start(services, name="order"):
    from gym.launch.launcher import start

    config = SlimeConfig(name=name)
    config.validate()
    resolved = config.resolve()
    budget = Budget(max_usd=50.0, bound_usd=10.0, explicit=False)
    return start(build_run_app(resolved), resolved, budget, services)


def test_a_launch_deploys_the_runs_own_app_then_takes_the_lease_then_spawns(monkeypatch):
    """Defects 3 and 5: the run lives in its deployed app gym-<run>; the lease (with the app id)
    is written once the app exists, after a heartbeated building claim."""
    monkeypatch.setattr(runs, "HEARTBEAT_S", 0.01)
    seen = []

    def long_build(services, name):
        deadline = time.monotonic() + 5
        while len([w for k, w in services.registry.writes if k == name]) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)  # the image builds; the launcher's thread beats the claim meanwhile
        seen.append([w for k, w in services.registry.writes if k == name])
        with pytest.raises(runs.LeaseHeld):  # a second launch mid-build is refused
            runs.acquire(services.registry, name, {"phase": "launching"})

    services = _Launch(during_deploy=long_build)
    run = _start(services)
    (deploy, upload, spawn) = services.events
    assert deploy[1] == "gym-order" and deploy[2]["phase"] == runs.BUILDING and "app_id" not in deploy[2]
    assert deploy[2]["app_name"] == "gym-order"  # a cancel mid-build stops the app by name
    beats = seen[0]
    assert len(beats) >= 4 and {b["phase"] for b in beats} == {runs.BUILDING}
    stamps = [b["heartbeat"] for b in beats]
    assert stamps == sorted(stamps) and stamps[-1] > stamps[0]  # beaten while the image built
    spec, at_spawn = spawn[1], spawn[2]
    assert at_spawn["phase"] == "launching" and at_spawn["app_id"] == "ap-deployed"
    assert at_spawn["app_name"] == spec["app_name"] == "gym-order"
    assert spec["lease"]["holder"] == at_spawn["holder"] and spec["budget"]["max_usd"] == 50.0
    record = runs.read_record(services.registry, "order")
    assert record["pipeline_call_id"] == "fc-pipeline" and run.name == "order"
    # the smoke checklist's "launch accepted" item names where the launch ran (pytest: no kernel, no container)
    assert record["launched_from"] == "a Python process on this machine"
    n = len(services.registry.writes)
    time.sleep(0.05)
    assert len(services.registry.writes) == n  # the launcher stopped beating: the pipeline does now


def test_an_interruption_after_the_spawn_keeps_the_runs_lease():
    """Defect 4: a Ctrl-C (or any error) once the pipeline was spawned must not free the name:
    the pipeline's next heartbeat would find no lease and stop the run."""
    services = _Launch()

    def interrupt_recording_the_call(key, value):
        if isinstance(value, dict) and value.get("pipeline_call_id"):
            services.registry.after_put = None
            raise KeyboardInterrupt

    services.registry.after_put = interrupt_recording_the_call
    with pytest.raises(KeyboardInterrupt):
        _start(services, name="kept")
    record = runs.read_record(services.registry, "kept")
    assert record is not None and record["app_id"] == "ap-deployed"
    assert runs.update(services.registry, "kept", record["holder"], phase="downloading")  # the pipeline beats on


@pytest.mark.parametrize("error", [KeyboardInterrupt(), RuntimeError("spawn refused")])
def test_a_launch_that_never_spawned_its_pipeline_frees_the_name(error):
    services = _Launch(spawn_raises=error)
    with pytest.raises(type(error)):
        _start(services, name="freed")
    assert services.registry.get("freed") is None
    assert runs.acquire(services.registry, "freed", {"phase": runs.BUILDING})  # a relaunch may go ahead


def test_a_failed_deploy_frees_the_name_and_spawns_nothing():
    def build_fails(services, name):
        raise RuntimeError("Image build failed")

    services = _Launch(during_deploy=build_fails)
    with pytest.raises(RuntimeError, match="Image build failed"):
        _start(services, name="nobuild")
    assert [e[0] for e in services.events] == ["deploy"] and services.registry.get("nobuild") is None


def test_a_claim_lost_during_the_build_is_not_launched():
    def cancelled_mid_build(services, name):
        holder = services.registry.get(name)["holder"]
        runs.update(services.registry, name, holder, phase="cancelled")

    services = _Launch(during_deploy=cancelled_mid_build)
    with pytest.raises(LaunchError, match="claim on 'gone' was lost"):
        _start(services, name="gone")
    assert [e[0] for e in services.events] == ["deploy", "upload"]


def test_cancel_marks_the_run_cancelled_first_then_stops_its_calls_and_its_app():
    """Run.cancel(): the final phase first (so the pipeline and the cluster stop themselves even if
    a stop fails), then the training and pipeline calls, then the run's deployed app."""
    store = DictStore()
    holder = runs.acquire(store, "stop-me", {"phase": "training"})["holder"]
    runs.update(store, "stop-me", holder, app_id="ap-1", app_name="gym-stop-me", train_call_id="fc-t",
                pipeline_call_id="fc-p")
    order = []

    class Stopper:
        def call(self, call_id):
            order.append((call_id, runs.read_record(store, "stop-me")["phase"]))

        def app(self, app):
            order.append((app, runs.read_record(store, "stop-me")["phase"]))

    runs.cancel_run(store, "stop-me", Stopper())
    assert order == [("fc-t", "cancelled"), ("fc-p", "cancelled"), ("ap-1", "cancelled")]
    assert runs.update(store, "stop-me", holder, phase="training") is None  # the pipeline's next beat stops it
    # A launch interrupted before it recorded its app id: the app is stopped by the run's app name.
    runs.acquire(store, "half", {"phase": runs.BUILDING, "app_name": "gym-half"})  # as launcher.take_lease claims
    order.clear()
    runs.cancel_run(store, "half", Stopper())
    assert order == [("gym-half", "cancelled")]


def test_modal_run_entrypoint_is_launch_into_the_runs_deployed_app(monkeypatch, capsys):
    """`modal run script.py` runs the same launch() (deploying gym-<run>), not a spawn inside the
    ephemeral app of `modal run`, whose detached mode keeps only the last triggered function alive."""
    import warnings

    import gym.launch.launcher as launcher
    from gym.launch.smoke import SMOKE_STAGES, smoke_config

    calls = []
    monkeypatch.setattr(launcher, "launch", lambda config, **kw: calls.append((config.name, kw)) or "launched")
    config = smoke_config()
    ra = build_run_app(config.resolve(), SMOKE_STAGES)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # registered_entrypoints is deprecated, with no replacement yet
        main = ra.app.registered_entrypoints["main"].info.raw_f
    main(max_usd=7.0)
    assert calls == [(config.name, {"max_usd": 7.0, "stages": SMOKE_STAGES})]
    assert "launched" in capsys.readouterr().out
