"""Launching for real, offline: credentials, the cost bound, the lease, the pipeline's decisions,
checkpoint repair and pruning, the smoke run, the pipeline function in the app, the CLI's Modal parts.

Real modal objects only (apps built offline, inspected with Function.info()); no network, no token.
The lease and the pipeline's decisions are pure functions, tested over a plain dict and plain data.
"""

import json
import subprocess
import sys
import time

import pytest

from gym import SlimeConfig
from gym.cli import main, seed_production_config
from gym.launch import checkpoints, runs
from gym.launch.budget import DEFAULT_MAX_USD, LaunchError, check_budget, cost_bound, launch_bound, rollouts_within
from gym.launch.pipeline import MAX_ATTEMPTS, Outcome, Spend, decide, failure_message, with_num_rollout
from gym.launch.smoke import SMOKE_STAGES, smoke_config


# ---- 1. credentials, decided offline ---------------------------------------------------------------

def _credentials_in_subprocess(env_extra, tmp_path, toml=None):
    import os

    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    if toml:
        (home / ".modal.toml").write_text(toml)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODAL_")}
    env.update({"HOME": str(home), **env_extra})
    code = "from gym.launch.launcher import missing_credentials; import json; print(json.dumps(missing_credentials()))"
    start = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1]), time.monotonic() - start


def test_inside_a_modal_container_the_container_identity_is_accepted(tmp_path):
    reason, seconds = _credentials_in_subprocess({"MODAL_IS_REMOTE": "1"}, tmp_path)
    assert reason is None
    assert seconds < 30  # decided from the environment: no network round trip


def test_without_credentials_the_reason_names_the_fix(tmp_path):
    reason, _ = _credentials_in_subprocess({}, tmp_path)
    assert "no Modal credentials" in reason and "modal setup" in reason and "Modal Notebook" in reason


def test_an_incomplete_oauth_profile_is_named(tmp_path):
    reason, _ = _credentials_in_subprocess({}, tmp_path, toml='[default]\noauth_client_id = "client-only"\n')
    assert "OAuth configuration is incomplete" in reason


def test_two_active_profiles_are_reported_not_raised(tmp_path):
    toml = '[a]\nactive = true\n[b]\nactive = true\n'
    reason, _ = _credentials_in_subprocess({}, tmp_path, toml=toml)
    assert "Modal configuration is invalid" in reason and "More than one Modal profile is active" in reason


# ---- 4. the cost bound -----------------------------------------------------------------------------

def test_cost_bound_is_the_estimates_upper_end():
    from gym.estimate import estimate_run

    config = SlimeConfig(num_rollout=20)
    resolved = config.resolve()
    assert cost_bound(config) == pytest.approx(estimate_run(resolved, config.plan()).usd[1])


def test_seed_production_run_is_refused_without_max_usd_with_cheaper_options():
    config = seed_production_config()
    bound = cost_bound(config)
    assert bound > 1000  # 3000 rollouts on 4 nodes
    with pytest.raises(LaunchError) as info:
        check_budget(config)
    text = str(info.value)
    assert "nothing was created" in text and f"${bound:,.2f}" in text and "$50 allowed without max_usd" in text
    fit = rollouts_within(config, DEFAULT_MAX_USD)
    assert f"num_rollout={fit} fits (CLI: --rollouts {fit})" in text
    assert "gym.smoke_config()" in text and "python -m gym smoke" in text
    assert cost_bound(config.replace(num_rollout=fit)) <= DEFAULT_MAX_USD < cost_bound(config.replace(num_rollout=fit + 1))


def test_max_usd_above_the_bound_is_accepted_and_below_refused():
    config = seed_production_config().replace(num_rollout=100)
    bound = cost_bound(config)
    budget = check_budget(config, max_usd=bound + 1)
    assert budget.max_usd == bound + 1 and budget.explicit and budget.bound_usd == pytest.approx(bound)
    with pytest.raises(LaunchError, match=r"over max_usd=\$"):
        check_budget(config, max_usd=bound - 1)
    with pytest.raises(LaunchError, match="must be a positive"):
        check_budget(config, max_usd=0)


def test_launch_refuses_an_unbounded_run_before_touching_modal():
    from gym.launch.launcher import launch

    with pytest.raises(LaunchError, match=r"estimated at up to \$"):
        launch(seed_production_config())


def test_staged_bound_counts_each_stage_start_up():
    config = smoke_config()
    assert launch_bound(config, SMOKE_STAGES) == pytest.approx(
        cost_bound(config.replace(num_rollout=2)) + cost_bound(config.replace(num_rollout=1)))
    assert launch_bound(config, SMOKE_STAGES) > cost_bound(config)


# ---- 5. the smoke run ------------------------------------------------------------------------------

def test_smoke_config_is_small_saves_every_rollout_and_has_no_eval():
    config = smoke_config()
    plan = config.plan()
    assert plan.model == "Qwen/Qwen3-0.6B" and plan.num_nodes == 1 and plan.colocate
    argv = config.slime_argv()
    assert "--eval-interval" not in argv
    assert argv[argv.index("--save-interval") + 1] == "1"
    assert argv[argv.index("--num-rollout") + 1] == str(SMOKE_STAGES[-1])
    assert launch_bound(config, SMOKE_STAGES) < 15
    split = smoke_config(num_nodes=2, colocate=False)
    assert split.plan().num_nodes == 2 and not split.plan().colocate and split.plan().gpus_per_node == 8


def test_smoke_dry_run_prints_its_bound_first_and_launches_nothing():
    out = subprocess.run([sys.executable, "-m", "gym", "smoke", "--dry-run"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    first = out.stdout.splitlines()[0]
    assert first.startswith("smoke run gym-smoke-1n-colo") and "estimated at most $" in first
    assert float(first.split("estimated at most $")[1].split(";")[0]) < 15
    assert "dry run: nothing was launched" in out.stdout


# ---- 3. one cluster per run name ---------------------------------------------------------------------

def test_a_second_launch_of_a_live_run_is_refused_naming_the_first():
    store: dict = {}
    first = runs.acquire(store, "run-a", {"phase": "launching", "app_id": "ap-1", "dashboard_url": "https://x"},
                         now=1000.0)
    with pytest.raises(runs.LeaseHeld) as info:
        runs.acquire(store, "run-a", {"phase": "launching"}, now=1000.0 + 60)
    text = str(info.value)
    assert "already running" in text and "ap-1" in text
    assert "gym.attach('run-a').status()" in text and "gym.attach('run-a').cancel()" in text
    assert store["run-a"]["holder"] == first["holder"]


def test_a_stale_or_finished_lease_is_taken_over_once():
    store: dict = {}
    first = runs.acquire(store, "run-b", {"phase": "training"}, now=0.0)
    later = runs.LEASE_TTL_S + 1
    second = runs.acquire(store, "run-b", {"phase": "launching"}, now=later)  # the first stopped heartbeating
    assert second["holder"] != first["holder"] and store["run-b"]["holder"] == second["holder"]
    # the dead pipeline cannot write any more: its updates are refused
    assert runs.update(store, "run-b", first["holder"], now=later, phase="training") is None
    assert runs.update(store, "run-b", second["holder"], now=later, phase="succeeded")["phase"] == "succeeded"
    third = runs.acquire(store, "run-b", {"phase": "launching"}, now=later + 1)  # finished: free again
    assert third["holder"] not in (first["holder"], second["holder"])


def test_only_one_of_two_racing_takeovers_wins():
    store: dict = {}
    dead = runs.acquire(store, "run-c", {"phase": "training"}, now=0.0)
    # Launch B already claimed the takeover of the dead holder (it got there first) ...
    store[runs.takeover_key("run-c", dead["holder"])] = "holder-of-b"
    # ... so launch A, seeing the same stale record, must not take it too.
    with pytest.raises(runs.LeaseHeld):
        runs.acquire(store, "run-c", {"phase": "launching"}, now=runs.LEASE_TTL_S + 10)


def test_release_frees_only_ones_own_lease():
    store: dict = {}
    lease = runs.acquire(store, "run-d", {"phase": "launching"})
    runs.release(store, "run-d", "someone-else")
    assert "run-d" in store
    runs.release(store, "run-d", lease["holder"])
    assert "run-d" not in store


def test_status_of_a_silent_run_is_lost():
    record = {"name": "r", "phase": "training", "heartbeat": 0.0, "spent_usd": 12.5, "max_usd": 50.0,
              "attempt": 2, "checkpoint": 40, "dashboard_url": "https://modal.com/id/ap-1"}
    alive = runs.status_from_record(record, now=60.0)
    assert alive.phase == "training" and not alive.done and "Ray dashboard" not in str(alive)
    assert "spent ~$12.50 of $50.00; attempt 2; checkpoint 40" in str(alive)
    lost = runs.status_from_record(record, now=runs.LEASE_TTL_S + 1)
    assert lost.phase == "lost" and lost.done and "relaunch to resume" in lost.detail


# ---- 2/6. the pipeline's decisions -------------------------------------------------------------------

def test_an_attempt_that_failed_without_a_new_checkpoint_is_not_retried():
    outcome = Outcome(ok=False, error="RuntimeError: CUDA out of memory\nlast line", checkpoint_before=20,
                      checkpoint_after=20)
    assert decide(outcome, 0, 1, attempts=1) == "fail"
    message = failure_message(outcome, 1)
    assert "wrote no new checkpoint" in message and "CUDA out of memory" in message
    assert decide(Outcome(ok=False, checkpoint_before=None, checkpoint_after=None), 0, 1, 1) == "fail"


def test_attempts_chain_while_they_make_progress():
    timed_out = Outcome(ok=False, error="FunctionTimeoutError: 24 h", checkpoint_before=40, checkpoint_after=120)
    assert decide(timed_out, 0, 1, attempts=1) == "retry"
    assert decide(Outcome(ok=False, checkpoint_before=None, checkpoint_after=0), 0, 1, 1) == "retry"
    assert decide(timed_out, 0, 1, attempts=MAX_ATTEMPTS) == "fail"
    assert decide(Outcome(ok=True), 0, 1, 1) == "done"


def test_smoke_stages_must_resume_and_save():
    assert decide(Outcome(ok=True, checkpoint_before=None, checkpoint_after=1), 0, 2, 1) == "next_stage"
    assert decide(Outcome(ok=True, checkpoint_before=1, checkpoint_after=2), 1, 2, 2) == "done"
    no_save = Outcome(ok=True, checkpoint_before=1, checkpoint_after=1)
    assert decide(no_save, 1, 2, 2) == "fail"
    assert "saved nothing new" in failure_message(no_save, 2)


def test_stage_sets_num_rollout_in_the_argv():
    argv = smoke_config().slime_argv()
    staged = with_num_rollout(argv, 2)
    assert staged[staged.index("--num-rollout") + 1] == "2" and argv[argv.index("--num-rollout") + 1] == "3"


def test_spend_stops_before_the_budget_is_passed():
    spend = Spend(usd=0.0, cluster_usd_per_hour=36.0, cpu_usd_per_hour=0.1, max_usd=10.0)
    spend.add(3600 * 0.25, cluster=True)  # 15 minutes of the cluster
    assert spend.usd == pytest.approx(9.025) and not spend.exhausted(ahead_s=30)
    spend.add(90, cluster=True)  # $9.93: under $10, but the next look (30 s on) would be at $10.23
    assert spend.usd < 10 and spend.exhausted(ahead_s=30)


# ---- 6. checkpoints: complete, repaired, pruned ------------------------------------------------------

def _save(ckpt, it):
    import torch
    import torch.distributed.checkpoint as dcp

    folder = checkpoints.iter_dir(ckpt, it)
    dcp.save({"w": torch.full((3,), float(it))}, checkpoint_id=str(folder))
    torch.save({}, folder / "common.pt")
    (folder / "metadata.json").write_text("{}")
    state = checkpoints.data_state_file(ckpt, it)  # slime's rollout manager, after the model
    state.parent.mkdir(exist_ok=True)
    torch.save({"sample_offset": it}, state)
    (ckpt / checkpoints.TRACKER).write_text(str(it))
    return folder


def test_resume_moves_the_marker_back_past_an_incomplete_save(tmp_path):
    import warnings

    warnings.simplefilter("ignore", UserWarning)  # torch: "assuming single process" for dcp.save
    for it in (10, 20):
        _save(tmp_path, it)
    newest = _save(tmp_path, 30)
    assert checkpoints.prepare_resume(tmp_path).iteration == 30 and not checkpoints.missing_files(newest)
    shard = next(p for p in newest.iterdir() if p.suffix == ".distcp")
    shard.unlink()  # a node died before its shards were committed
    assert checkpoints.missing_files(newest) == [shard.name]
    point = checkpoints.prepare_resume(tmp_path)
    assert point.iteration == 20 and point.skipped == (30,)
    assert "iteration 30 is incomplete" in str(point) and shard.name in str(point)
    assert checkpoints.latest_iteration(tmp_path) == 20


def test_resume_without_any_complete_save_starts_over(tmp_path):
    folder = checkpoints.iter_dir(tmp_path, 5)
    folder.mkdir()
    (folder / "metadata.json").write_text("{}")
    (tmp_path / checkpoints.TRACKER).write_text("5")
    point = checkpoints.prepare_resume(tmp_path)
    assert point.iteration is None and "starting from the initial weights" in str(point)
    assert not (tmp_path / checkpoints.TRACKER).exists()


def test_prune_keeps_the_newest_saves_and_never_one_being_written(tmp_path):
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    for it in range(1, 5):
        _save(tmp_path, it)
    checkpoints.iter_dir(tmp_path, 5).mkdir()  # iteration 5 is still being written (no marker yet)
    assert checkpoints.prune(tmp_path, keep=2) == [1, 2]
    assert checkpoints.saved_iterations(tmp_path) == [3, 4, 5]


def test_prune_never_deletes_the_newest_complete_save(tmp_path):
    """The marked save is incomplete (a node's shards never committed): keep=1 must not count it,
    or the one save a resume can fall back to is deleted and the run silently starts over."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    for it in (10, 20):
        _save(tmp_path, it)
    newest = _save(tmp_path, 30)
    next(p for p in newest.iterdir() if p.suffix == ".distcp").unlink()
    assert checkpoints.prune(tmp_path, keep=1) == [10]
    assert checkpoints.saved_iterations(tmp_path) == [20, 30]
    assert checkpoints.prepare_resume(tmp_path).iteration == 20


def test_a_truncated_shard_is_an_incomplete_save(tmp_path):
    """A background commit can catch a shard half written: present, but shorter than .metadata says."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    _save(tmp_path, 10)
    newest = _save(tmp_path, 20)
    shard = next(p for p in newest.iterdir() if p.suffix == ".distcp")
    shard.write_bytes(shard.read_bytes()[:-8])
    missing = checkpoints.missing_files(newest)
    assert len(missing) == 1 and missing[0].startswith(f"{shard.name} (truncated: ")
    assert checkpoints.prepare_resume(tmp_path).iteration == 10


def test_a_save_without_slimes_dataset_state_is_incomplete(tmp_path):
    """slime's rollout manager saves the prompt sampler's position after the model; resuming
    without it silently restarts the data from the first prompt (slime data_source.load)."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    for it in (10, 20):
        _save(tmp_path, it)
    checkpoints.data_state_file(tmp_path, 20).unlink()  # killed between the model save and the data state
    assert checkpoints.missing_files(checkpoints.iter_dir(tmp_path, 20)) == []
    assert checkpoints.missing_files(checkpoints.iter_dir(tmp_path, 20), data_state=True) == [
        "rollout/global_dataset_state_dict_20.pt"]
    point = checkpoints.prepare_resume(tmp_path, data_state=True)
    assert point.iteration == 10 and "global_dataset_state_dict_20.pt" in str(point)
    argv = smoke_config().slime_argv()
    assert checkpoints.saves_data_state(argv)  # slime's default: the global dataset and its state
    assert not checkpoints.saves_data_state([*argv, "--disable-rollout-global-dataset"])


def test_resume_deletes_failed_saves_newer_than_the_resume_point(tmp_path):
    """Megatron saves into an existing folder with only a warning: shards left by a failed save
    would sit next to the new save's under the same names and could pass a later check."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    _save(tmp_path, 10)
    incomplete = _save(tmp_path, 20)
    next(p for p in incomplete.iterdir() if p.suffix == ".distcp").unlink()
    leftover = checkpoints.iter_dir(tmp_path, 30)  # a save that died before the marker moved
    leftover.mkdir()
    (leftover / "__0_0.distcp").write_bytes(b"stale")
    point = checkpoints.prepare_resume(tmp_path)
    assert point.iteration == 10 and point.removed == (20, 30) and point.changed
    assert checkpoints.saved_iterations(tmp_path) == [10]
    assert not checkpoints.prepare_resume(tmp_path).changed  # repaired once: nothing more to do


def test_plan_shows_checkpoint_storage():
    plan = SlimeConfig(keep_checkpoints=2).plan()
    assert 50 < plan.checkpoint_gib < 60  # Qwen3-4B: ~4e9 params × 14 bytes
    assert "(2 kept + 1 being written)" in str(plan) and "-checkpoints" in str(plan)
    assert any(p.rule == "positive_counts" for p in SlimeConfig(keep_checkpoints=0).problems())


# ---- 2. the pipeline function in the app -------------------------------------------------------------

def test_pipeline_function_runs_on_a_small_non_preemptible_cpu():
    from gym.launch.app import RUNTIME_ENV, TRAIN_RETRIES, build_run_app

    ra = build_run_app(smoke_config().resolve(), SMOKE_STAGES)
    info = ra.pipeline.info()
    assert not info.gpus and info.cpu <= 2 and info.nonpreemptible and info.timeout == 24 * 3600
    assert set(info.volumes) == {"/checkpoints"} and info.volumes["/checkpoints"].name == "gym-smoke-1n-colo-checkpoints"
    assert ra.app.pipeline is ra.pipeline
    assert ra.train.info().max_retries in (None, 0) and TRAIN_RETRIES == 0  # the pipeline decides retries
    assert ra.spec["stages"] == [2, 3] and ra.spec["keep_checkpoints"] == 2
    assert ra.spec["env"]["PYTHONUNBUFFERED"] == "1" == RUNTIME_ENV["PYTHONUNBUFFERED"]
    assert ra.spec["registry"]["dict"] == runs.REGISTRY
    json.dumps(ra.spec)


def test_smoke_launch_uses_stages():
    from gym.launch.launcher import default_stages

    assert default_stages(smoke_config()) == SMOKE_STAGES
    assert default_stages(SlimeConfig()) is None


# ---- 7. the CLI's Modal parts --------------------------------------------------------------------------

def _args(*argv):
    import argparse

    ns = argparse.Namespace(model=None, nodes=None, colocate=None, gpu=None, set=None, no_eval=False, rollouts=None)
    for key, value in argv:
        setattr(ns, key, value)
    return ns


def test_modal_run_is_the_seed_run_plus_overrides():
    from gym.cli import modal_config

    config = modal_config(_args(("set", ["global_batch_size=64"]), ("rollouts", 40), ("no_eval", True)))
    seed = seed_production_config()
    assert config.num_nodes == seed.num_nodes == 4 and config.wandb == seed.wandb
    assert (config.global_batch_size, config.num_rollout, config.eval_interval) == (64, 40, 0)
    assert "--eval-interval" not in config.slime_argv()


def test_set_takes_json_lists(capsys):
    assert main(["argv", "--set", 'extra_args=["--log-probs-chunk-size", "512"]', "--no-eval"]) == 0
    out = capsys.readouterr().out
    assert "--log-probs-chunk-size 512" in out and "--eval-interval" not in out


def test_modal_run_over_budget_exits_3_with_the_estimate(capsys):
    assert main(["run", "--backend", "modal"]) == 3
    err = capsys.readouterr().err
    assert "3000 rollouts" in err and "--max-usd" in err and "python -m gym smoke" in err


def test_modal_run_within_budget_then_stops_at_credentials(capsys):
    assert main(["run", "--backend", "modal", "--rollouts", "2"]) == 3
    assert "no Modal credentials" in capsys.readouterr().err


def test_help_describes_what_modal_runs(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "seed's production run" in out and "--max-usd" in out and "--no-eval" in out


def test_status_without_credentials_exits_3_naming_the_fix(capsys):
    assert main(["status", "gym-smoke-1n-colo"]) == 3
    assert "no Modal credentials" in capsys.readouterr().err


# ---- 4. the control panel's Modal launch ---------------------------------------------------------------

def test_panel_shows_the_bound_and_one_click_never_starts_an_expensive_run():
    from gym.widgets import ControlPanel

    panel = ControlPanel(seed_production_config())
    bound = cost_bound(panel.config)
    assert panel.max_usd.value == DEFAULT_MAX_USD  # starts at $50, not at the bound
    assert f"estimated at most ${bound:,.2f}" in panel.modal_bound.value and "Launch will refuse" in panel.modal_bound.value
    panel.backend.value = "modal"
    panel.launch_button.click()
    assert "estimated at up to" in panel.status.value and "nothing was created" in panel.status.value
    panel.set(num_rollout=2)  # a small run: within $50, so the launch goes on to the credentials check
    assert "Launch will refuse" not in panel.modal_bound.value
    panel.launch_button.click()
    assert "no Modal credentials" in panel.status.value


def test_eval_interval_zero_means_no_eval_everywhere():
    from gym.local.runner import should_run_periodic_action

    config = SlimeConfig(eval_interval=0)
    assert "--eval-interval" not in config.slime_argv() and config.resolve().config.eval_interval == 0
    assert not any(should_run_periodic_action(k, 0, 10) for k in range(10))  # the local backend too
    assert any(p.fields[0] == "eval_interval" for p in SlimeConfig(eval_interval=-1).problems())


# ---- 2. the pipeline's loop, with Modal behind plain services (as simulate_cluster's LocalHost) -------

class _Call:
    """A function call whose get() returns or raises the scripted results, one per look."""

    def __init__(self, object_id, results):
        self.object_id, self.results, self.cancelled = object_id, list(results), False

    def get(self, timeout=None):
        result = self.results.pop(0) if self.results else "done"
        if isinstance(result, BaseException):
            raise result
        return result

    def cancel(self, terminate_containers=False):
        self.cancelled = terminate_containers


class _Function:
    def __init__(self, name, services, results=(), on_spawn=None):
        self.name, self.services, self.results, self.on_spawn = name, services, list(results), on_spawn

    def spawn(self, *args):
        call = _Call(f"fc-{self.name}-{len(self.services.calls)}", self.results.pop(0) if self.results else [])
        self.services.calls[call.object_id] = call
        if self.on_spawn:
            self.on_spawn(*args)
        return call


class _Registry(dict):
    """A plain dict that keeps every record written (the heartbeats)."""

    def __init__(self):
        super().__init__()
        self.writes = []

    on_write = None
    """Called after each write of a run's record (tests make containers act meanwhile)."""

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if "#" not in key:  # the run's record (not an attempt's entries, cluster.rank_key and co.)
            self.writes.append(dict(value) if isinstance(value, dict) else value)
            if self.on_write:
                self.on_write(value)


class _Volume:
    def __init__(self, fail_on_reload=None):
        self.reloads, self.fail_on_reload = 0, fail_on_reload

    def reload(self):
        self.reloads += 1
        if self.reloads == self.fail_on_reload:
            raise RuntimeError("volume reload failed")

    def commit(self):
        pass


class _Services:
    def __init__(self, volume=None):
        self.registry, self.calls, self.volume, self.functions = _Registry(), {}, volume or _Volume(), {}

    def call(self, call_id):
        return self.calls[call_id]


def _pipeline_spec(tmp_path, services, usd_per_hour=36.0, max_usd=100.0):
    from gym.launch.app import run_spec
    from gym.launch.shipping import plan_shipment

    resolved = smoke_config().resolve()
    spec = run_spec(resolved, plan_shipment(resolved.dataset, None), (2,))
    lease = runs.acquire(services.registry, spec["name"], {"phase": "launching", "max_usd": max_usd})
    spec.update(lease={"holder": lease["holder"]}, checkpoint_dir=str(tmp_path / "ckpt"), ack_wait_s=0.0,
                budget={"max_usd": max_usd, "bound_usd": 5.0, "usd_per_hour": usd_per_hour, "cpu_usd_per_hour": 0.0})
    return spec


def test_pipeline_heartbeats_while_the_model_downloads(tmp_path):
    """A download longer than the lease's TTL must not make the run look dead (status 'lost',
    and a second launch could take the name while this one still runs)."""
    import warnings

    from gym.launch.pipeline import run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    services.functions = {
        "download_model": _Function("download", services, [[TimeoutError()] * 3 + ["/model"]]),
        "prepare_dataset": _Function("prepare", services, [[TimeoutError(), ["files"]]]),
        "train": _Function("train", services, [["ok"]], on_spawn=lambda s: _save(tmp_path / "ckpt", 1)),
    }
    (tmp_path / "ckpt").mkdir()
    result = run_pipeline(spec, {}, None, services)
    assert result["phase"] == "succeeded"
    phases = [w["phase"] for w in services.registry.writes]
    assert phases.count("downloading") == 4 and phases.count("preparing") == 2  # one per look


def test_a_lost_connection_to_the_attempt_leaves_no_cluster_running(tmp_path):
    """get() raising a client-side error does not mean the cluster stopped: the pipeline must end
    the attempt before it fails the run (or retries), or the cluster runs on with no budget."""
    import modal.exception

    from gym.launch.pipeline import run_pipeline

    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    services.functions = {"train": _Function("train", services, [[modal.exception.ConnectionError("reset")]])}
    result = run_pipeline(spec, {}, {"data_ready": True}, services)
    assert result["phase"] == "failed" and "wrote no new checkpoint" in services.registry[spec["name"]]["error"]
    (call,) = services.calls.values()
    assert call.cancelled


def test_an_error_in_the_pipeline_stops_the_attempt_it_started(tmp_path):
    from gym.launch.pipeline import run_pipeline

    services = _Services(volume=_Volume(fail_on_reload=3))  # the first look at a running attempt fails (after 2 before the spawn)
    spec = _pipeline_spec(tmp_path, services)
    services.functions = {"train": _Function("train", services, [[TimeoutError()]])}
    with pytest.raises(RuntimeError, match="volume reload failed"):
        run_pipeline(spec, {}, {"data_ready": True}, services)
    (call,) = services.calls.values()
    assert call.cancelled and services.registry[spec["name"]]["phase"] == "failed"


def test_a_handed_over_pipeline_counts_the_time_since_its_predecessors_last_look(tmp_path):
    """The cluster runs on while the fresh pipeline call starts: those minutes are spent too."""
    import warnings

    from gym.launch.pipeline import run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    services = _Services()
    spec = _pipeline_spec(tmp_path, services, usd_per_hour=36.0)
    (tmp_path / "ckpt").mkdir()
    _save(tmp_path / "ckpt", 1)
    services.calls["fc-train-0"] = _Call("fc-train-0", ["ok"])
    from gym.launch.cluster import rank_key

    services.registry[rank_key(spec["name"], "a1", 0)] = {"rank": 0, "started": time.time() - 3600,
                                                           "committed": time.time()}
    state = {"data_ready": True, "stage": 0, "attempts": 1, "checkpoint_before": None, "attempt_id": "a1",
             "attempt_live": True, "train_call_id": "fc-train-0", "spent_usd": 10.0, "spent_at": time.time() - 600}
    result = run_pipeline(spec, {}, state, services)
    assert result["phase"] == "succeeded"
    assert result["spent_usd"] == pytest.approx(10.0 + 36.0 * 600 / 3600, abs=0.05)  # + 10 min of the cluster


def test_taking_over_a_dead_pipelines_lease_names_its_app_to_stop():
    """A lease that expired because the pipeline died may still have a training attempt running
    (up to 24 h, unbounded, into the same folder): the taker learns the app to stop first."""
    store: dict = {}
    dead = runs.acquire(store, "run-e", {"phase": "training"}, now=0.0)
    runs.update(store, "run-e", dead["holder"], now=0.0, app_id="ap-dead", train_call_id="fc-1")
    taker = runs.acquire(store, "run-e", {"phase": "launching"}, now=runs.LEASE_TTL_S + 1)
    assert taker["replaced_app_id"] == "ap-dead"
    runs.update(store, "run-e", taker["holder"], now=runs.LEASE_TTL_S + 2, phase="succeeded", app_id="ap-2")
    after_success = runs.acquire(store, "run-e", {"phase": "launching"}, now=runs.LEASE_TTL_S + 3)
    assert "replaced_app_id" not in after_success  # a finished run left nothing running


def test_the_smoke_runs_resumed_stage_passes_megatrons_scheduler_check(tmp_path):
    """Stage 2 runs num_rollout=3 from a save made with num_rollout=2: slime derives train_iters
    (lr_decay_steps, wd_incr_steps) from num_rollout and Megatron asserts they match the
    checkpoint's unless --override-opt_param-scheduler is given, so stage 2 would always fail."""
    import warnings

    from gym.launch.pipeline import OVERRIDE_SCHEDULER_FLAG, run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    spec["stages"] = list(SMOKE_STAGES)
    (tmp_path / "ckpt").mkdir()
    argvs = []

    def train(attempt_spec):
        argvs.append(attempt_spec["argv"])
        _slime_like_attempt(tmp_path / "ckpt", attempt_spec["argv"])

    services.functions = {"train": _Function("train", services, [["ok"], ["ok"]], on_spawn=train)}
    assert run_pipeline(spec, {}, {"data_ready": True}, services)["phase"] == "succeeded"
    first, second = argvs
    assert first[first.index("--num-rollout") + 1] == "2" and OVERRIDE_SCHEDULER_FLAG not in first
    assert second[second.index("--num-rollout") + 1] == "3" and second.count(OVERRIDE_SCHEDULER_FLAG) == 1


def test_relaunching_a_finished_run_starts_no_cluster(tmp_path):
    """A second `python -m gym smoke` finds the run trained to its end: slime would load the save,
    find no rollout left and exit, after a whole cluster start-up, and stage 2 would then fail
    with "saved nothing new". Nothing is spawned instead, and the status says how to start over."""
    import warnings

    from gym.launch.pipeline import run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    spec["stages"] = list(SMOKE_STAGES)
    (tmp_path / "ckpt").mkdir()
    for it in (1, 2):
        _save(tmp_path / "ckpt", it)
    services.functions = {"train": _Function("train", services)}
    result = run_pipeline(spec, {}, {"data_ready": True}, services)
    assert result["phase"] == "succeeded" and not services.calls
    assert "already trained: checkpoint 2 covers 3 rollouts" in result["detail"]
    assert "gym-smoke-1n-colo-checkpoints" in result["detail"]


def test_a_run_stopped_after_its_first_stage_resumes_only_the_second(tmp_path):
    import warnings

    from gym.launch.pipeline import run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    spec["stages"] = list(SMOKE_STAGES)
    (tmp_path / "ckpt").mkdir()
    _save(tmp_path / "ckpt", 1)  # stage 1 (2 rollouts) finished before the stop
    services.functions = {"train": _Function("train", services, [["ok"], ["ok"]],
                                             on_spawn=lambda s: _slime_like_attempt(tmp_path / "ckpt", s["argv"]))}
    result = run_pipeline(spec, {}, {"data_ready": True}, services)
    assert result["phase"] == "succeeded" and result["detail"] == "3 rollouts"
    assert len(services.calls) == 1 and checkpoints.latest_iteration(tmp_path / "ckpt") == 2  # no idle cluster


def _slime_like_attempt(ckpt, argv):
    """What slime does with --save-interval 1: resume after the marker, save every rollout left."""
    latest = checkpoints.latest_iteration(ckpt)
    for it in range(0 if latest is None else latest + 1, int(argv[argv.index("--num-rollout") + 1])):
        _save(ckpt, it)


def _containers_report(services, spec, attempt_spec, committed=(0, 1), saved=(), started_ago=0.0):
    """What the attempt's containers write to the run's Dict (cluster.run_cluster): a start entry per
    rank, the end entry of rank 0, and the commit acknowledgement of the ranks in `committed`."""
    from gym.launch.cluster import end_key, rank_key

    aid, now = attempt_spec["attempt"]["id"], time.time()
    for rank in range(spec["num_nodes"]):
        entry = {"rank": rank, "started": now - started_ago}
        if rank in committed:
            entry["committed"] = now
        services.registry[rank_key(spec["name"], aid, rank)] = entry
    services.registry[end_key(spec["name"], aid)] = {"status": "SUCCEEDED", "saved": list(saved),
                                                      "joined_line": "[gym] all 2 nodes joined the Ray cluster "
                                                                     "(RAY_AUTH_MODE=disabled)",
                                                      "override_line": " > overriding learning rate value to 1e-06"}


def test_a_save_whose_megatron_rank_0_is_on_another_container_is_waited_for_not_deleted(tmp_path, monkeypatch):
    """Megatron's rank 0 (the writer of .metadata, common.pt, metadata.json and the marker) is on
    container 1, which commits only when the job ends: the pipeline must wait for every container's
    acknowledgement before it judges the save, not find no marker, resume from the save before
    and delete the newest one (issue 16, defect 1). Then it ends the call, a successful one too (defect 2)."""
    import shutil
    import warnings

    from gym.launch import pipeline
    from gym.launch.cluster import rank_key
    from gym.launch.pipeline import run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    monkeypatch.setattr(pipeline, "COMMIT_POLL_S", 0.0)
    ckpt, held = tmp_path / "ckpt", tmp_path / "container1-uncommitted"
    ckpt.mkdir()
    late = {}

    def container_1_commits(record):
        late["looks"] = late.get("looks", 0) + 1
        if "key" not in late or late["looks"] < 3:
            return
        for path in held.rglob("*"):  # container 1 commits, then acknowledges
            if path.is_file():
                target = ckpt / path.relative_to(held)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(path, target)
        services.registry[late["key"]] = {**services.registry[late["key"]], "committed": time.time()}
        late.clear()

    def train(attempt_spec):
        before = checkpoints.latest_iteration(ckpt)
        _slime_like_attempt(ckpt, attempt_spec["argv"])
        stage_1 = before is None
        saved = list(range(0 if before is None else before + 1, checkpoints.latest_iteration(ckpt) + 1))
        _containers_report(services, spec, attempt_spec, committed=(0,) if stage_1 else (0, 1), saved=saved)
        if stage_1:  # container 1's writes to the last save are not on the volume until it commits
            folder = checkpoints.iter_dir(ckpt, 1)
            for name in (".metadata", "common.pt", "metadata.json"):
                (held / folder.name).mkdir(parents=True, exist_ok=True)
                shutil.move(folder / name, held / folder.name / name)
            shutil.move(ckpt / checkpoints.TRACKER, held / checkpoints.TRACKER)
            late.update(key=rank_key(spec["name"], attempt_spec["attempt"]["id"], 1), looks=0)

    services = _Services()
    services.registry.on_write = container_1_commits
    spec = _pipeline_spec(tmp_path, services)
    spec.update(stages=list(SMOKE_STAGES), num_nodes=2, ack_wait_s=600.0)
    services.functions = {"train": _Function("train", services, [["ok"], ["ok"]], on_spawn=train)}
    result = run_pipeline(spec, {}, {"data_ready": True}, services)
    assert result["phase"] == "succeeded", result
    waits = [w["detail"] for w in services.registry.writes if "waiting for 1 of 2 containers" in w["detail"]]
    assert waits and "key" not in late  # it waited, and container 1's writes arrived
    spawned = [w for w in services.registry.writes if w.get("detail", "").startswith("stage 2/2, attempt 2")]
    assert spawned and spawned[0]["checkpoint"] == 1  # stage 2 resumed from the save container 1 finished
    assert checkpoints.saved_iterations(ckpt)[-2:] == [1, 2]
    assert all(call.cancelled for call in services.calls.values())  # both calls ended, the successful ones too
    items = {c["item"]: c for c in services.registry[spec["name"]]["checklist"]}
    assert items["save complete on the volume"]["status"] == "confirmed"
    assert "checkpoint iter_0000002 complete on the volume" in items["save complete on the volume"]["evidence"]
    assert items["every container stopped after cancel or at the end"]["status"] == "confirmed"
    assert items["Ray joined without auth"]["status"] == "confirmed"

# ---- 6. the training containers watch their pipeline --------------------------------------------------

def test_rank_0_stops_the_job_when_its_pipeline_is_gone():
    """The pipeline bounds the run's cost; if its container dies, the attempt it started must not
    train on unwatched until Modal's 24 h limit."""
    import threading

    from gym.launch.cluster import watch_pipeline

    class Host:
        def __init__(self, answers):
            self.answers = list(answers)

        def pipeline_alive(self, spec):
            answer = self.answers.pop(0)
            if isinstance(answer, BaseException):
                raise answer
            return answer

    stops = []
    host = Host([True, ConnectionError("registry blip"), True, False])
    assert watch_pipeline(host, {}, lambda: stops.append(1), threading.Event(), every_s=0.0)
    assert stops == [1] and not host.answers  # a failed look counted as alive; stopped on the first dead one
    done = threading.Event()
    done.set()
    assert not watch_pipeline(Host([False]), {}, lambda: stops.append(2), done, every_s=0.0)  # job over: no look
    assert stops == [1]


def test_pipeline_alive_means_holding_a_live_lease():
    from gym.launch.cluster import pipeline_holds_lease

    record = {"holder": "h1", "phase": "training", "heartbeat": 1000.0}
    assert pipeline_holds_lease(record, "h1", now=1000.0 + 60)
    assert not pipeline_holds_lease(record, "h1", now=1000.0 + runs.LEASE_TTL_S + 1)  # the pipeline died
    assert not pipeline_holds_lease({**record, "holder": "h2"}, "h1", now=1000.0)  # taken over by another launch
    assert not pipeline_holds_lease({**record, "phase": "cancelled"}, "h1", now=1000.0)
    assert not pipeline_holds_lease(None, "h1", now=1000.0)


def test_the_attempts_spec_carries_the_lease_it_is_watched_by(tmp_path):
    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    seen = []
    services.functions = {"train": _Function("train", services, [["ok"]], on_spawn=seen.append)}
    from gym.launch.pipeline import run_pipeline

    run_pipeline(spec, {}, {"data_ready": True}, services)
    (attempt,) = seen
    assert attempt["lease"] == spec["lease"] and attempt["registry"]["dict"] == runs.REGISTRY


def test_following_a_run_succeeds_only_if_the_run_did():
    """`python -m gym smoke` follows the run: a smoke run stopped at its budget or cancelled proved
    nothing, so its exit status must not say it passed."""
    from gym.cli import follow_run

    class Followed:  # a Run whose wait() has already returned (the real one polls the Modal Dict)
        name = "gym-smoke-1n-colo"

        def __init__(self, record):
            self.record = record

        def wait(self):
            return runs.status_from_record(self.record, now=self.record["heartbeat"])

    base = {"name": "gym-smoke-1n-colo", "heartbeat": 100.0}
    assert follow_run(Followed({**base, "phase": "succeeded"})) == 0
    assert follow_run(Followed({**base, "phase": "stopped", "detail": "spent ~$50.00 of max_usd $50.00"})) == 1
    assert follow_run(Followed({**base, "phase": "cancelled"})) == 1


def test_panel_shows_the_bound_launch_checks_for_a_staged_smoke_run():
    from gym.launch.launcher import default_stages
    from gym.widgets import ControlPanel

    config = smoke_config(num_nodes=2)
    bound = launch_bound(config, default_stages(config))
    assert bound > cost_bound(config)  # two stages, two start-ups
    assert f"estimated at most ${bound:,.2f}" in ControlPanel(config).modal_bound.value


def test_a_complete_save_whose_marker_is_late_is_resumed_not_deleted(tmp_path):
    """Megatron writes the marker after the save: a container stopped in between (or a commit that
    carried the save but not the marker) leaves a finished save unmarked. It is the resume point."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    _save(tmp_path, 10)
    _save(tmp_path, 20)
    (tmp_path / checkpoints.TRACKER).write_text("10")
    point = checkpoints.prepare_resume(tmp_path, data_state=True)
    assert point.iteration == 20 and "not marked" in str(point) and point.changed
    assert checkpoints.latest_iteration(tmp_path) == 20 and checkpoints.saved_iterations(tmp_path) == [10, 20]


# ---- issue 16: the end of the job, spend, no public door, Ray auth, the smoke checklist ---------------

def test_time_queued_for_gpus_is_not_spent(tmp_path):
    """Modal bills a container from its start, not from the spawn: ten minutes in which no
    container of the attempt reported its start cost only the pipeline's CPU (defect 7)."""
    from gym.launch.pipeline import run_pipeline

    services = _Services()
    spec = _pipeline_spec(tmp_path, services, usd_per_hour=36.0)
    (tmp_path / "ckpt").mkdir()
    services.calls["fc-train-0"] = _Call("fc-train-0", ["ok"])
    state = {"data_ready": True, "stage": 0, "attempts": 1, "checkpoint_before": None, "attempt_id": "a1",
             "attempt_live": True, "train_call_id": "fc-train-0", "spent_usd": 10.0, "spent_at": time.time() - 600}
    result = run_pipeline(spec, {}, state, services)
    assert result["spent_usd"] == pytest.approx(10.0, abs=0.01)  # the cluster never started: not billed


def test_cluster_share_counts_each_container_from_its_own_start():
    from gym.launch.pipeline import cluster_share

    assert cluster_share([], 2, since=0.0, now=100.0) == 0.0  # queued
    assert cluster_share([0.0, 50.0], 2, since=0.0, now=100.0) == pytest.approx(0.75)  # one container started late
    assert cluster_share([-10.0, -10.0], 2, since=0.0, now=100.0) == pytest.approx(1.0)


def test_the_ray_dashboard_is_not_published():
    """Its job API runs any code inside a container that holds the HF and W&B secrets (defect 9)."""
    import inspect

    from gym.launch import cluster
    from gym.launch.cluster import ModalHost, Node, ray_start_command

    head = ray_start_command(Node(0, "10.0.0.1", "10.0.0.1", 2), gpus=8, cpus=8, host=ModalHost())
    assert "--dashboard-host=127.0.0.1" in head and not any("0.0.0.0" in a for a in head)
    assert not hasattr(ModalHost, "dashboard_tunnel") and "modal.forward" not in inspect.getsource(cluster)
    assert "ray_dashboard_url" not in runs.RunStatus.__dataclass_fields__


def test_ray_starts_and_the_job_runs_with_token_auth_disabled(monkeypatch):
    """A newer Ray switches token auth on by default when a token file exists; the image's Ray must
    not, or the workers and the job cannot join (defect 10)."""
    from gym.launch.cluster import describe_env, job_env, ray_env, set_host_ip

    monkeypatch.setenv("RAY_AUTH_MODE", "token")  # whatever the image says
    assert ray_env()["RAY_AUTH_MODE"] == "disabled"
    spec = {"env": {"PYTHONUNBUFFERED": "1"}, "required_env": []}
    assert job_env(spec, "10.0.0.1")["RAY_AUTH_MODE"] == "disabled"
    set_host_ip("10.0.0.2")
    import os

    assert os.environ["RAY_AUTH_MODE"] == "disabled"  # this process's ray.init and job client agree
    assert "RAY_AUTH_MODE=disabled" in describe_env(job_env(spec, "10.0.0.1"), [])


class _Host:
    """A container's Modal side as plain answers (the real one is cluster.ModalHost)."""

    end_check_s = 0.0

    def __init__(self, head_up=True):
        self.head_up, self.commits = head_up, 0

    def head_alive(self, node):
        return self.head_up

    def commit(self, volume_name):
        self.commits += 1


def test_a_worker_commits_and_acknowledges_when_the_job_ends_or_the_head_is_gone():
    """Workers used to sleep until Modal's 24 h limit and never commit (defects 1, 2)."""
    from gym.launch.cluster import Node, commit_and_acknowledge, end_key, rank_key, wait_for_end

    spec = {"name": "r", "attempt": {"id": "h-1"}, "volumes": {"checkpoints": "r-checkpoints"}}
    store = {end_key("r", "h-1"): {"status": "SUCCEEDED"}}
    node = Node(1, "10.0.0.2", "10.0.0.1", 2)
    assert wait_for_end(_Host(), spec, store, node) == "the job ended (SUCCEEDED)"
    assert wait_for_end(_Host(head_up=False), spec, {}, node) == "the Ray head is gone"
    host = _Host()
    assert commit_and_acknowledge(host, spec, store, node, "the job ended", started=1.0)
    assert host.commits == 1 and store[rank_key("r", "h-1", 1)]["committed"] >= 1.0


def test_unproven_saves_are_kept_not_deleted(tmp_path):
    """A container that never acknowledged its commit may still write to a save: the resume moves
    the marker back but deletes nothing newer, and pruning leaves incomplete saves alone."""
    import warnings

    warnings.simplefilter("ignore", UserWarning)
    _save(tmp_path, 10)
    _save(tmp_path, 20)
    late = _save(tmp_path, 30)
    next(p for p in late.iterdir() if p.suffix == ".distcp").unlink()
    point = checkpoints.prepare_resume(tmp_path, delete_unfinished=False)
    assert point.iteration == 20 and point.kept == (30,) and point.removed == ()
    assert "kept iter_0000030: not proven abandoned" in str(point)
    assert checkpoints.saved_iterations(tmp_path) == [10, 20, 30]
    old = _save(tmp_path, 5)
    (old / "common.pt").unlink()
    (tmp_path / checkpoints.TRACKER).write_text("20")
    assert checkpoints.prune(tmp_path, keep=1, settled=False) == [10]  # the incomplete 5 may still be arriving
    assert 5 in checkpoints.saved_iterations(tmp_path)


def test_the_smoke_checklist_marks_each_item_from_its_evidence():
    from gym.launch.smoke import CHECKLIST, format_checklist, smoke_checklist

    empty = smoke_checklist({})
    assert [c["status"] for c in empty] == ["not reached"] * len(CHECKLIST)
    items = smoke_checklist({"save": {"ok": True, "fact": "checkpoint iter_0000001 complete on the volume"},
                             "ray": {"ok": False, "fact": "[gym] all 2 nodes joined (RAY_AUTH_MODE=unset)"}})
    by_item = {c["item"]: c for c in items}
    assert by_item["save complete on the volume"]["status"] == "confirmed"
    assert by_item["Ray joined without auth"]["status"] == "failed"
    text = format_checklist(items)
    assert text.startswith("smoke checklist:") and "checkpoint iter_0000001 complete on the volume" in text
    status = runs.status_from_record({"name": "r", "phase": "succeeded", "heartbeat": 0.0, "checklist": items},
                                     now=1.0)
    assert "smoke checklist:" in str(status) and "[     failed] Ray joined without auth" in str(status)


def test_the_handover_time_is_the_specs(tmp_path):
    """The handover (a fresh pipeline call before the 24 h limit) is rehearsed with a short time."""
    import warnings

    from gym.launch.pipeline import run_pipeline

    warnings.simplefilter("ignore", UserWarning)
    services = _Services()
    spec = _pipeline_spec(tmp_path, services)
    spec["handover_after_s"] = 1e-9
    (tmp_path / "ckpt").mkdir()
    handed = []

    class Pipeline:
        def spawn(self, *args):
            handed.append(args)
            return _Call("fc-pipeline-next", [])

    services.functions = {"train": _Function("train", services, [[TimeoutError(), "ok"]]), "pipeline": Pipeline()}
    result = run_pipeline(spec, {}, {"data_ready": True}, services)
    assert result["phase"] == "handed over" and len(handed) == 1
    (call,) = services.calls.values()
    assert not call.cancelled  # the successor watches it
    assert handed[0][2]["train_call_id"] == call.object_id and handed[0][2]["handovers"] == 1
