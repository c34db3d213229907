"""Launching a run on Modal: every check first, then the run's own app is deployed and the
pipeline spawned inside Modal.

`launch()` is what a notebook, the CLI and the control panel call. In this order, and before
anything is created:

1. the config is validated (ConfigError lists every problem);
2. the cost bound: the run estimate's upper bound must be within `max_usd` ($50 without it);
3. user code must be able to travel (see shipping.py);
4. credentials, decided offline (`missing_credentials`): a token, an OAuth profile, or *inside a
   Modal container* (a Modal Notebook kernel), the container's own identity;
5. the named secrets exist.

Then `start()`:

6. the run name is claimed (runs.acquire, phase "building"): refused, naming the live launch
   that holds it; the claim is heartbeated by this process while the next step runs;
7. the run's app is deployed as `gym-<run name>` (images built, functions created; see app.py
   for why deployed and not detached), local files are uploaded;
8. the claim becomes the lease (phase "launching", with the app id);
9. the `pipeline` function is spawned: download -> prepare -> training attempts run inside
   Modal, so the kernel or laptop may go away.

The name is freed again only if the pipeline was never spawned. The returned `Run` handle (also
`gym.attach(name)`) reads status, logs and checkpoints, waits and cancels. From a terminal,
`modal run your_script.py` calls the same launch() through the app's local entrypoint.
"""

from __future__ import annotations

import os

from gym.launch.app import RunApp, app_name, build_run_app, pipeline_usd_per_hour
from gym.launch.budget import REFUSED, Budget, LaunchError, check_budget

__all__ = ["LaunchError", "launch", "missing_credentials", "preflight"]


def missing_credentials() -> str | None:
    """Why the Modal client cannot authenticate from here, or None when it can. Offline: reads
    the environment and the config file exactly as `modal.Client.from_env` does, no network.

    Accepted: inside a Modal container (`MODAL_IS_REMOTE=1`, e.g. a Modal Notebook), where the
    client authenticates as the container and ignores token settings; a token id and secret
    (environment or the active profile of ~/.modal.toml); a complete OAuth configuration.
    """
    import modal.config
    from modal.exception import InvalidError

    if modal.config._is_remote():
        return None
    try:
        modal.config._check_config()
        cfg = modal.config.config
        token = (cfg.get("token_id"), cfg.get("token_secret"))
        oauth = {k: cfg.get(k) for k in ("oauth_refresh_token", "oauth_client_id", "oauth_client_secret",
                                         "oauth_jwt_key")}
    except InvalidError as err:
        return f"the Modal configuration is invalid: {err}"
    if any(token) and any(oauth.values()):
        return "Modal token and OAuth credentials are both configured: keep one (see `modal profile list`)"
    if any(oauth.values()):
        complete = (oauth["oauth_refresh_token"] and oauth["oauth_client_id"]
                    and bool(oauth["oauth_client_secret"]) != bool(oauth["oauth_jwt_key"]))
        return None if complete else ("the Modal OAuth configuration is incomplete: it needs a refresh token, a "
                                      "client id and one of client secret or JWT key (run `modal setup` again)")
    if all(token):
        return None
    profile = os.environ.get("MODAL_PROFILE") or modal.config._profile
    return ("no Modal credentials: run `modal setup` (or `python -m modal setup`) once, or set "
            "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET"
            + (f" (profile {profile!r} has no token)" if profile != "default" else "")
            + "; in a Modal Notebook you are already signed in")


def preflight(run_app: RunApp, reasons: tuple[str, ...] = ()) -> None:
    """Raise LaunchError listing every reason the launch would fail (`reasons` found earlier, e.g.
    the cost bound, then these checks), before anything is created."""
    reasons = list(reasons)
    if run_app.shipment.refusal:
        reasons.append(run_app.shipment.refusal)
    creds = missing_credentials()
    if creds:
        reasons.append(creds)
    elif not reasons:  # the secrets check is the first network call: a refused launch never makes it
        reasons += _missing_secrets(run_app.secrets)
    if reasons:
        raise LaunchError(REFUSED.rstrip(" ") + "\n  - " + "\n  - ".join(reasons))


def _missing_secrets(names: tuple[str, ...]) -> list[str]:
    import modal
    from modal.exception import NotFoundError

    how = {"WANDB_API_KEY": "https://wandb.ai/authorize", "HF_TOKEN": "https://huggingface.co/settings/tokens"}
    out = []
    for name in names:
        try:
            modal.Secret.from_name(name).hydrate()
        except NotFoundError:
            key = "HF_TOKEN" if "hug" in name or name.startswith("hf") else "WANDB_API_KEY"
            out.append(f"Modal secret {name!r} does not exist: create it with "
                       f"`modal secret create {name} {key}=<your key from {how[key]}>`")
    return out


def default_stages(config) -> tuple[int, ...] | None:
    """The smoke run (a config named gym-smoke-*) trains in two stages to prove resume; others in one."""
    from gym.launch.smoke import SMOKE_PREFIX, SMOKE_STAGES

    name = config.name or ""
    return SMOKE_STAGES if name.startswith(SMOKE_PREFIX) and config.num_rollout == SMOKE_STAGES[-1] else None


def _upload(run_app: RunApp) -> None:
    if not run_app.shipment.uploads:
        return
    import modal

    from gym.paths import DATA_PATH

    volume = modal.Volume.from_name(run_app.spec["volumes"]["data"])
    with volume.batch_upload(force=True) as batch:
        for local, remote_path in run_app.shipment.uploads.items():
            batch.put_file(local, remote_path.removeprefix(DATA_PATH))


def launched_from() -> str:
    """Where this launch runs, for the run's record and the smoke checklist's first item: a
    notebook kernel (an IPython shell with a kernel) or a plain process, inside a Modal container (a Modal
    Notebook: modal's `_is_remote`, as missing_credentials decides) or not."""
    import sys

    from modal.config import _is_remote

    ipython = sys.modules.get("IPython")  # imported by any kernel; a kernel's shell has .kernel
    shell = ipython.get_ipython() if ipython is not None else None
    where = "a notebook kernel" if getattr(shell, "kernel", None) is not None else "a Python process"
    return f"{where} inside a Modal container (Modal Notebooks)" if _is_remote() else f"{where} on this machine"


def take_lease(registry, name: str, budget: Budget) -> dict:
    """The run name's claim (runs.acquire, phase "building"), or LaunchError naming the live launch
    that holds it. A dead launch's app is stopped first (stop_orphaned_app)."""
    from gym.launch import runs

    try:
        claim = runs.acquire(registry, name, {"phase": runs.BUILDING, "detail": "building the image and deploying",
                                              "app_name": app_name(name), "launched_from": launched_from(),
                                              "max_usd": budget.max_usd,
                                              "bound_usd": budget.bound_usd, "spent_usd": 0.0, "attempt": 0})
    except runs.LeaseHeld as err:
        raise LaunchError(str(err)) from None
    if claim.get("replaced_app_id"):
        stop_orphaned_app(registry, name, claim)
    return claim


def stop_orphaned_app(registry, name: str, lease: dict) -> None:
    """Stop the app of a launch whose pipeline died (its lease expired): a training attempt it
    started can run on for up to 24 h with no pipeline bounding its cost, into the same checkpoint
    folder. On failure the name is freed again and the launch refused."""
    import modal
    from modal.exception import NotFoundError

    from gym.launch import runs

    app_id = lease["replaced_app_id"]
    try:
        modal.App.lookup(app_id).stop()
    except NotFoundError:
        return
    except Exception as err:
        runs.release(registry, name, lease["holder"])
        raise LaunchError(f"not launched, nothing was created: the earlier launch of {name!r} (app {app_id}) lost "
                          f"its pipeline and could not be stopped ({type(err).__name__}: {err}); stop it with "
                          f"`modal app stop {app_id}` and launch again") from None
    print(f"[gym] {name}: stopped app {app_id} of the earlier launch (its pipeline had died)", flush=True)


class Heartbeat:
    """While the launch builds and deploys, beat its claim every runs.HEARTBEAT_S from a thread of
    the launching process (runs.update with no fields: only the heartbeat changes). Stops on exit."""

    def __init__(self, registry, name: str, holder: str):
        from gym.launch.runs import HEARTBEAT_S

        self.registry, self.name, self.holder = registry, name, holder
        self.every_s = HEARTBEAT_S
        self._stop = None
        self._thread = None

    def _run(self) -> None:
        from gym.launch import runs

        while not self._stop.wait(self.every_s):
            try:
                if runs.update(self.registry, self.name, self.holder) is None:
                    return  # cancelled or taken over: the launch finds out when it writes the lease
            except Exception as err:  # a registry blip: the next beat may pass (CLAIM_TTL_S allows 3)
                print(f"[gym] {self.name}: heartbeat failed ({type(err).__name__}: {err})", flush=True)

    def __enter__(self) -> Heartbeat:
        import threading

        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"gym-claim-{self.name}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


class ModalLaunch:
    """What a launch asks of Modal once the checks passed: the run registry, deploying the run's
    app, uploading local files, spawning the pipeline. `start` takes any object with these
    attributes: tests pass plain ones (a dict-like registry, in-process deploy and spawn)."""

    def __init__(self):
        from gym.launch import runs

        self.registry = runs._registry()

    def deploy(self, run_app: RunApp) -> tuple[str, str]:
        """Deploy the run's app as `gym-<run name>` (images built, functions created); returns its
        app id and dashboard URL. "recreate": any container of an earlier deployment of this name
        is terminated before the new one starts (the lease says no live run uses it)."""
        import modal

        with modal.enable_output():
            run_app.app.deploy(name=run_app.spec["app_name"], strategy="recreate")
        return run_app.app.app_id, run_app.app.get_dashboard_url()

    def upload(self, run_app: RunApp) -> None:
        _upload(run_app)

    def spawn(self, run_app: RunApp, spec: dict):
        """Spawn the deployed app's pipeline with the object ids of the app's functions, by which
        it finds them (and itself, to hand over to its successor) with `modal.Function.from_id`."""
        return run_app.pipeline.spawn(spec, run_app.function_ids())


def pipeline_spec(run_app: RunApp, resolved, budget: Budget, holder: str) -> dict:
    """The run spec the pipeline gets: the app's, plus the lease it heartbeats and the budget."""
    from gym.perf import usd_per_hour

    return {**run_app.spec, "lease": {"holder": holder},
            "budget": {"max_usd": budget.max_usd, "bound_usd": budget.bound_usd,
                       "usd_per_hour": usd_per_hour(resolved.config), "cpu_usd_per_hour": pipeline_usd_per_hour()}}


def start(run_app: RunApp, resolved, budget: Budget, services):
    """After every check passed: claim the name, deploy the run's app, turn the claim into the
    lease, spawn the pipeline. Returns the Run.

    - The name is held from the start by a "building" claim that this process heartbeats while
      the image builds and the app deploys (runs.CLAIM_TTL_S), so a long build never shows the run
      as lost and no second launch can take the name meanwhile.
    - The lease proper (phase "launching", the app id) is written once the app's objects exist;
      the pipeline heartbeats it from its first step.
    - The name is freed only if the pipeline was never spawned: once `spawn` returned, an
      interruption or error (a Ctrl-C, a failed record write) leaves the run and its lease alone.
      A Ctrl-C *during* the spawn frees the name; a pipeline that started anyway finds no lease at
      its first heartbeat and stops before it starts anything.
    """
    from gym.launch import runs

    name, registry = resolved.name, services.registry
    holder = take_lease(registry, name, budget)["holder"]
    call = None
    try:
        with Heartbeat(registry, name, holder):
            app_id, dashboard_url = services.deploy(run_app)
            services.upload(run_app)
        # After the beats stopped: a beat's read-then-write must not drop the lease's fields.
        lease = runs.update(registry, name, holder, phase="launching", detail="", app_id=app_id,
                            app_name=run_app.spec["app_name"], dashboard_url=dashboard_url)
        if lease is None:
            raise LaunchError(f"not launched: the claim on {name!r} was lost while its app was built (cancelled, "
                              f"or taken over after {runs.CLAIM_TTL_S // 60} min without a heartbeat); the app "
                              f"{run_app.spec['app_name']} was deployed but runs nothing: launch again")
        call = services.spawn(run_app, pipeline_spec(run_app, resolved, budget, holder))
    except BaseException:
        if call is None:
            runs.release(registry, name, holder)
        raise
    try:
        record = runs.update(registry, name, holder, pipeline_call_id=call.object_id)
    except BaseException:
        print(f"[gym] {name}: the pipeline was started and keeps running (interrupted after it started): "
              f"gym.attach({name!r}).status(), .cancel() stops it", flush=True)
        raise
    return runs.Run(name, record or runs.read_record(registry, name))


def checked_budget(config, run_app: RunApp, max_usd: float | None, stages) -> Budget:
    """The cost bound and the pre-flight checks together: one LaunchError naming every reason
    (a run over budget *and* without credentials hears about both at once)."""
    reasons: list[str] = []
    budget = None
    try:
        budget = check_budget(config, max_usd, stages)
    except LaunchError as err:
        text = str(err).removeprefix(REFUSED)
        reasons.append(text.replace("\n  - ", "\n      - "))
    preflight(run_app, tuple(reasons))
    return budget


def launch(config, *, max_usd: float | None = None, stages: tuple[int, ...] | None = None):
    """Check everything, then start `config` (a SlimeConfig) on Modal in its own deployed app.
    Returns a `gym.launch.runs.Run`. Refuses with LaunchError (or ConfigError) before creating
    anything. Order: the config, the cost bound, then credentials and secrets (one error for all),
    then start(): the name's claim, the deploy, the lease, the pipeline's spawn."""
    config.validate()
    stages = stages or default_stages(config)
    resolved = config.resolve()
    run_app = build_run_app(resolved, stages)
    budget = checked_budget(config, run_app, max_usd, stages)
    print(f"[gym] {resolved.name}: {budget}", flush=True)
    return start(run_app, resolved, budget, ModalLaunch())
