"""Launching a run on Modal: every check first, then the pipeline is spawned inside Modal.

`launch()` is what a notebook, the CLI and the control panel call. In this order, and before
anything is created:

1. the config is validated (ConfigError lists every problem);
2. the cost bound: the run estimate's upper bound must be within `max_usd` ($50 without it);
3. user code must be able to travel (see shipping.py);
4. credentials, decided offline (`missing_credentials`): a token, an OAuth profile, or *inside a
   Modal container* (a Modal Notebook kernel), the container's own identity;
5. the named secrets exist;
6. no live launch holds the run name (runs.acquire takes the lease).

Then the app runs detached, local files are uploaded, and the `pipeline` function is spawned:
download -> prepare -> training attempts run inside Modal, so the kernel or laptop may go away.
The returned `Run` handle (also `gym.attach(name)`) reads status, logs and checkpoints, waits and
cancels. From a terminal, `modal run --detach your_script.py` does the same through the app's
local entrypoint.
"""

from __future__ import annotations

import os

from gym.launch.app import RunApp, build_run_app, pipeline_usd_per_hour
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


def take_lease(name: str, budget: Budget) -> dict:
    """The run name's lease (runs.acquire), or LaunchError naming the live launch that holds it."""
    from gym.launch import runs

    registry = runs._registry()
    try:
        lease = runs.acquire(registry, name, {"phase": "launching", "detail": "", "max_usd": budget.max_usd,
                                              "bound_usd": budget.bound_usd, "spent_usd": 0.0, "attempt": 0})
    except runs.LeaseHeld as err:
        raise LaunchError(str(err)) from None
    if lease.get("replaced_app_id"):
        stop_orphaned_app(registry, name, lease)
    return lease


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


def spawn_pipeline(run_app: RunApp, resolved, budget: Budget, lease: dict):
    """Inside a running app: upload local files, spawn the pipeline, record it. Frees the run
    name again if anything fails before the pipeline exists. Returns the Run."""
    from gym.launch import runs
    from gym.perf import usd_per_hour

    name, registry = run_app.spec["name"], runs._registry()
    try:
        _upload(run_app)
        spec = {**run_app.spec, "lease": {"holder": lease["holder"]},
                "budget": {"max_usd": budget.max_usd, "bound_usd": budget.bound_usd,
                           "usd_per_hour": usd_per_hour(resolved.config),
                           "cpu_usd_per_hour": pipeline_usd_per_hour()}}
        call = run_app.pipeline.spawn(spec, run_app.function_ids())
    except BaseException:
        runs.release(registry, name, lease["holder"])
        raise
    record = runs.update(registry, name, lease["holder"], pipeline_call_id=call.object_id,
                         app_id=run_app.app.app_id, dashboard_url=run_app.app.get_dashboard_url())
    return runs.Run(name, record)


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


def start_in_running_app(run_app: RunApp, resolved, *, max_usd: float | None = None):
    """`modal run --detach` path (the app already runs): budget, pre-flight, lease, then spawn."""
    budget = checked_budget(resolved.config, run_app, max_usd, tuple(run_app.spec["stages"]))
    return spawn_pipeline(run_app, resolved, budget, take_lease(run_app.spec["name"], budget))


def launch(config, *, max_usd: float | None = None, stages: tuple[int, ...] | None = None):
    """Check everything, then start `config` (a SlimeConfig) on Modal, detached. Returns a
    `gym.launch.runs.Run`. Refuses with LaunchError (or ConfigError) before creating anything."""
    import modal

    config.validate()
    stages = stages or default_stages(config)
    resolved = config.resolve()
    run_app = build_run_app(resolved, stages)
    budget = checked_budget(config, run_app, max_usd, stages)
    lease = take_lease(resolved.name, budget)
    print(f"[gym] {resolved.name}: {budget}", flush=True)
    try:
        with modal.enable_output(), run_app.app.run(detach=True):
            return spawn_pipeline(run_app, resolved, budget, lease)
    except BaseException:
        from gym.launch import runs

        runs.release(runs._registry(), resolved.name, lease["holder"])
        raise
