"""Launching a built app: pre-flight checks, then download -> prepare -> train.

`launch()` is what a notebook calls. It checks everything it can before creating anything
(the config, Modal credentials, the named secrets, whether user code can travel), then runs
the app *detached*: stopping the kernel or closing the laptop does not stop a multi-hour run.
From a terminal, `modal run --detach your_script.py` does the same through the app's local
entrypoint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from gym.launch.app import RunApp, build_run_app


class LaunchError(RuntimeError):
    """A launch refused before anything was created, with every reason and what to do."""


@dataclass(frozen=True)
class Launched:
    """A detached run: where to watch it."""

    app_name: str
    app_id: str
    call_id: str
    dashboard_url: str

    def __str__(self) -> str:
        return (f"launched {self.app_name} (detached)\n  dashboard: {self.dashboard_url}\n"
                f"  logs:      modal app logs {self.app_id}\n  stop:      modal app stop {self.app_id}")

    def _repr_html_(self) -> str:
        return (f"<b>launched {self.app_name}</b> (detached): <a href='{self.dashboard_url}' target='_blank'>"
                f"{self.dashboard_url}</a><br><code>modal app logs {self.app_id}</code>")


def missing_credentials() -> str | None:
    """Why Modal cannot authenticate from here, or None when a token is configured.

    Reads the local config only (env vars or ~/.modal.toml); makes no network call.
    """
    import modal.config

    token_id = os.environ.get("MODAL_TOKEN_ID") or modal.config.config.get("token_id")
    token_secret = os.environ.get("MODAL_TOKEN_SECRET") or modal.config.config.get("token_secret")
    if token_id and token_secret:
        return None
    return ("no Modal credentials: run `modal setup` (or `python -m modal setup`) once, or set "
            "MODAL_TOKEN_ID and MODAL_TOKEN_SECRET; in a Modal Notebook you are already signed in")


def preflight(run_app: RunApp) -> None:
    """Raise LaunchError listing every reason the launch would fail, before anything is created."""
    reasons: list[str] = []
    if run_app.shipment.refusal:
        reasons.append(run_app.shipment.refusal)
    creds = missing_credentials()
    if creds:
        reasons.append(creds)
    else:
        reasons += _missing_secrets(run_app.secrets)
    if reasons:
        raise LaunchError("not launched, nothing was created:\n  - " + "\n  - ".join(reasons))


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


def run_steps(run_app: RunApp, wait: bool):
    """download_model -> prepare_dataset -> train, inside a running app. Returns the train
    result (wait=True) or its FunctionCall (wait=False)."""
    spec = run_app.spec
    if run_app.shipment.uploads:
        import modal

        volume = modal.Volume.from_name(spec["volumes"]["data"])
        from gym.paths import DATA_PATH

        with volume.batch_upload(force=True) as batch:
            for local, remote_path in run_app.shipment.uploads.items():
                batch.put_file(local, remote_path.removeprefix(DATA_PATH))
    print(f"[gym] {run_app.download_model.remote(spec)}")
    run_app.prepare_dataset.remote(spec)
    return run_app.train.remote(spec) if wait else run_app.train.spawn(spec)


def launch(config, *, detach: bool = True) -> Launched:
    """Validate, pre-flight, then launch `config` (a SlimeConfig) on Modal, detached by default."""
    import modal

    config.validate()
    run_app = build_run_app(config.resolve())
    preflight(run_app)
    with modal.enable_output():
        with run_app.app.run(detach=detach):
            call = run_steps(run_app, wait=False)
            url = run_app.app.get_dashboard_url()
            return Launched(app_name=run_app.spec["name"], app_id=run_app.app.app_id,
                            call_id=call.object_id, dashboard_url=url)
