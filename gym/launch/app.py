"""build_app(): the Modal app of one run. Built offline; nothing is created until launch.

Functions (each one's resources are in its decorator):

| function         | resources                                   | volumes                        |
|------------------|---------------------------------------------|--------------------------------|
| pipeline         | 1 CPU, non-preemptible, 24 h (then hands    | <run>-checkpoints              |
|                  | over to a fresh call): runs the others      |                                |
| download_model   | CPU, 4 h                                    | huggingface-cache (shared)     |
| prepare_dataset  | CPU, 1 h                                    | <run>-data                     |
| train            | gpu "H100:8", clustered(size=nodes, rdma)   | all three                      |
|                  | for > 1 node, 24 h, no automatic retries:   |                                |
|                  | the pipeline decides (see pipeline.py)      |                                |

No checkpoint conversion function: the pinned slime loads a Hugging Face directory given as
--ref-load directly (for qwen3 and qwen3_moe model types), so Megatron torch_dist conversion
is not needed for the bundled models.

The app is named `gym-<run name>` and `launch()` *deploys* it (one deployed app per run) rather
than running it detached: in a detached `app.run`, Modal keeps only the last triggered function
alive once the client has gone (modal's `cli/run.py` warns so), and a run's pipeline spawns its
successor every 23.5 h. A deployed app keeps every function callable until it is stopped, so the
run's lifetime is the pipeline's alone; `Run.cancel()` stops the app (terminating every container
in it). Idle, it costs nothing (no web endpoint, no schedule, no warm container).

Volumes are per run (`<run>-data`, `<run>-checkpoints`); only the HF cache is shared. A new
attempt finds the same checkpoint folder and slime resumes from its latest save
(`--load` = `--save`), with the next rollout id.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from gym import pricing
from gym.launch.resources import TRAIN_CPU_CORES, train_memory_gib
from gym.launch.shipping import Shipment, plan_shipment
from gym.paths import DATA_PATH, HF_CACHE_PATH, CHECKPOINTS_PATH, MEGATRON_ROOT, model_dir
from gym.slime.argv import SLIME_IMAGE, build_argv, checkpoint_dir
from gym.slime.config import Resolved

HF_CACHE_VOLUME = "huggingface-cache"
TRAIN_TIMEOUT_S = 24 * 3600
"""Modal's maximum per attempt; the pipeline chains attempts, each resuming the last checkpoint."""
TRAIN_RETRIES = 0
"""Modal's own retries: none. The pipeline retries an attempt only if it wrote a new checkpoint
(a bad flag, an OOM or a wrong key would fail the same way again)."""


def max_run_seconds() -> float:
    """The longest run the app allows: attempts of at most TRAIN_TIMEOUT_S each, chained by the
    pipeline (each resuming the last checkpoint) up to its MAX_ATTEMPTS backstop."""
    from gym.launch.pipeline import MAX_ATTEMPTS

    return float(TRAIN_TIMEOUT_S * MAX_ATTEMPTS)

JOIN_TIMEOUT_S = 600
"""How long rank 0 waits for the other nodes to join Ray (and workers keep retrying to join)."""
RUNTIME_ENV = {
    "PYTHONPATH": f"{MEGATRON_ROOT}/:/root",
    "CUDA_DEVICE_MAX_CONNECTIONS": "1",
    "NCCL_NVLS_ENABLE": "1",
    "PYTHONUNBUFFERED": "1",  # as slime's run scripts: logs arrive live, last lines survive an OOM kill
}
"""Ray job environment for slime (no secrets: those are inherited from the container)."""


@dataclass(frozen=True)
class RunApp:
    """A built app plus what launching it needs; `app` is a real `modal.App`."""

    app: Any
    download_model: Any
    prepare_dataset: Any
    train: Any
    spec: dict
    shipment: Shipment
    pipeline: Any = None
    """The CPU function that runs download -> prepare -> training attempts inside Modal."""
    secrets: tuple[str, ...] = field(default=())
    """Names of the Modal secrets the functions use (checked before launch)."""

    def function_ids(self) -> dict[str, str]:
        """Object ids of the running app's functions (plain data the pipeline looks them up by)."""
        return {"pipeline": self.pipeline.object_id, "download_model": self.download_model.object_id,
                "prepare_dataset": self.prepare_dataset.object_id, "train": self.train.object_id}


def data_fingerprint(r: Resolved, shipment: Shipment) -> str:
    text = json.dumps([shipment.dataset_spec, sorted(shipment.uploads.items())], sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def run_spec(r: Resolved, shipment: Shipment, stages: tuple[int, ...] | None = None) -> dict:
    """Everything the containers need, as plain data (JSON-serialisable, no secrets). The launch
    adds "budget" and "lease" (see launcher.launch)."""
    from gym.launch.runs import REGISTRY

    ds, c = r.dataset, r.config
    required_env = ["WANDB_API_KEY"] if c.wandb is not None else []
    return {
        "name": r.name,
        "app_name": app_name(r.name),
        "num_nodes": c.num_nodes,
        "gpus_per_node": c.gpus_per_node,
        "ray_cpus_per_node": int(TRAIN_CPU_CORES),
        "join_timeout_s": JOIN_TIMEOUT_S,
        "model": {"repo": r.model.model_name, "revision": r.model.revision, "dir": model_dir(r.model.model_name)},
        "data": {"spec": shipment.dataset_spec, "files": ds.output_files(), "input_key": ds.input_key,
                 "label_key": ds.label_key, "fingerprint": data_fingerprint(r, shipment),
                 "uploaded": bool(shipment.uploads)},
        "ref_load": c.ref_load,
        "argv": build_argv(r),
        "env": dict(RUNTIME_ENV),
        "required_env": required_env,
        "volumes": volume_names(r.name),
        "checkpoint_dir": checkpoint_dir(r.name),
        "keep_checkpoints": c.keep_checkpoints,
        "stages": list(stages or (c.num_rollout,)),
        "registry": {"dict": REGISTRY},
    }


NONPREEMPTIBLE_PRICE_FACTOR = 3.0
"""Assumed premium of a non-preemptible container over list price (a generous guess: the pipeline
is 1 core and 2 GiB, cents per hour either way)."""


def pipeline_usd_per_hour() -> float:
    """The pipeline container's price (it is counted in the run's spend)."""
    from gym.launch.pipeline import PIPELINE_CPU, PIPELINE_MEMORY_MIB

    return (pricing.CPU_USD_PER_CORE_SECOND * PIPELINE_CPU
            + pricing.MEMORY_USD_PER_GIB_SECOND * PIPELINE_MEMORY_MIB / 1024) * 3600 * NONPREEMPTIBLE_PRICE_FACTOR


APP_PREFIX = "gym-"
"""A run's app is deployed as `gym-<run name>` (runs are validated to at most 52 characters, so
this stays within Modal's 64)."""


def app_name(run_name: str) -> str:
    """The name of the run's deployed app: one app per run, deployed by launch(), stopped by
    Run.cancel(); a relaunch of the same run redeploys it."""
    return f"{APP_PREFIX}{run_name}"


def volume_names(run_name: str) -> dict[str, str]:
    return {"hf_cache": HF_CACHE_VOLUME, "data": f"{run_name}-data", "checkpoints": f"{run_name}-checkpoints"}


def slime_image(shipment: Shipment):
    """The pinned slime image plus gym (and the user's modules), with an empty HF cache dir
    so the shared cache volume can mount there. Local files come last: modal refuses any build
    step above them when the image loads (see gym.launch.images)."""
    import modal

    image = (modal.Image.from_registry(SLIME_IMAGE)
             .entrypoint([])
             .run_commands(f"rm -rf {HF_CACHE_PATH}")
             .add_local_python_source("gym", *shipment.modules))
    return image


def build_app(r: Resolved):
    """The `modal.App` of a resolved, validated config, with its functions as attributes
    (`app.pipeline`, `app.download_model`, `app.prepare_dataset`, `app.train`) and the launch data as
    `app.gym`."""
    return build_run_app(r).app


def build_run_app(r: Resolved, stages: tuple[int, ...] | None = None) -> RunApp:
    """The Modal app and its launch data. Offline: no credentials, no network. `stages`: the
    num_rollout of each training stage (default: one stage, the config's)."""
    import modal

    from gym.launch import pipeline, remote
    from gym.launch.images import check_functions

    c = r.config
    shipment = plan_shipment(r.dataset, c.custom_rm_path)
    spec = run_spec(r, shipment, stages)
    image = slime_image(shipment)
    names = volume_names(r.name)
    hf_cache = modal.Volume.from_name(names["hf_cache"], create_if_missing=True)
    data = modal.Volume.from_name(names["data"], create_if_missing=True)
    checkpoints = modal.Volume.from_name(names["checkpoints"], create_if_missing=True)

    hf_secrets = [modal.Secret.from_name(r.model.hf_secret, required_keys=["HF_TOKEN"])] if r.model.hf_secret else []
    train_secrets = list(hf_secrets)
    if c.wandb is not None:
        train_secrets.append(modal.Secret.from_name(c.wandb.secret_name, required_keys=["WANDB_API_KEY"]))

    app = modal.App(spec["app_name"], tags={"gym.model": r.model.short_name, "gym.nodes": str(c.num_nodes)})
    download_fn = app.function(image=image, volumes={HF_CACHE_PATH: hf_cache}, secrets=hf_secrets,
                               timeout=4 * 3600)(remote.download_model)
    prepare_fn = app.function(image=image, volumes={DATA_PATH: data, HF_CACHE_PATH: hf_cache},
                              secrets=hf_secrets, timeout=3600)(remote.prepare_dataset)

    pipeline_fn = app.function(image=image, volumes={CHECKPOINTS_PATH: checkpoints}, cpu=pipeline.PIPELINE_CPU,
                               memory=pipeline.PIPELINE_MEMORY_MIB, timeout=pipeline.PIPELINE_TIMEOUT_S,
                               nonpreemptible=True)(pipeline.pipeline)

    train_body = remote.train
    multi = c.num_nodes > 1
    if multi:
        train_body = modal.clustered(size=c.num_nodes, rdma=True)(train_body)
    train_fn = app.function(
        image=image,
        gpu=f"{c.gpu_type}:{c.gpus_per_node}",
        cpu=TRAIN_CPU_CORES,
        memory=train_memory_gib(c.optimizer_cpu_offload) * 1024,
        volumes={HF_CACHE_PATH: hf_cache, DATA_PATH: data, CHECKPOINTS_PATH: checkpoints},
        secrets=train_secrets,
        timeout=TRAIN_TIMEOUT_S,
        retries=modal.Retries(max_retries=TRAIN_RETRIES, initial_delay=10.0, backoff_coefficient=1.0),
        experimental_options={"efa_enabled": True} if multi else None,
    )(train_body)

    check_functions({"pipeline": pipeline_fn, "download_model": download_fn, "prepare_dataset": prepare_fn,
                     "train": train_fn})
    secrets = tuple(([r.model.hf_secret] if r.model.hf_secret else []) + ([c.wandb.secret_name] if c.wandb else []))
    run_app = RunApp(app=app, download_model=download_fn, prepare_dataset=prepare_fn, train=train_fn,
                     spec=spec, shipment=shipment, pipeline=pipeline_fn, secrets=secrets)
    app.download_model, app.prepare_dataset, app.train, app.gym = download_fn, prepare_fn, train_fn, run_app
    app.pipeline = pipeline_fn

    def main(max_usd: float = 0.0) -> None:
        """`modal run <your script> [--max-usd N]`: launch() itself (0: the default bound). The run
        lives in its own deployed app, `gym-<run name>`; the ephemeral app of `modal run` only
        carries this entrypoint, so nothing depends on what a detached app keeps alive."""
        from gym.launch.launcher import launch

        print(launch(r.config.replace(name=r.name), max_usd=max_usd or None, stages=tuple(spec["stages"])))

    # A local entrypoint runs only here, never in a container, so it may close over this run;
    # Modal's global-scope check is meant for functions it imports remotely.
    main.__qualname__ = "main"
    app.local_entrypoint()(main)
    return run_app

