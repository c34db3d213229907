"""The Modal functions' bodies. They run inside the slime image (Python 3.12).

Defined at module scope and decorated by `gym.launch.app.build_app`, so Modal imports them
by name inside the container instead of pickling them: the user's Python version does not
matter. Every argument is a plain-data run spec (see `gym.launch.app.run_spec`). Nothing here
imports modal, ray or huggingface_hub at module level.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

MARKER = ".gym-prepared.json"
"""Written last by prepare_dataset / download_model: its presence means the files are complete."""


def _commit(volume_name: str) -> None:
    import modal

    modal.Volume.from_name(volume_name).commit()


def _reload(volume_name: str) -> None:
    import modal

    modal.Volume.from_name(volume_name).reload()


def _read_marker(folder: str) -> dict | None:
    path = Path(folder) / MARKER
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _write_marker(folder: str, content: dict) -> None:
    path = Path(folder) / MARKER
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, path)


def download_model(spec: dict) -> str:
    """Download the model snapshot into the shared HF-cache volume (skipped if complete)."""
    model = spec["model"]
    want = {"repo": model["repo"], "revision": model["revision"]}
    if _read_marker(model["dir"]) == want:
        print(f"[gym] {model['repo']} already in {model['dir']}")
        return model["dir"]
    from huggingface_hub import snapshot_download

    start = time.time()
    snapshot_download(repo_id=model["repo"], revision=model["revision"], local_dir=model["dir"])
    _write_marker(model["dir"], want)
    _commit(spec["volumes"]["hf_cache"])
    print(f"[gym] downloaded {model['repo']} to {model['dir']} in {time.time() - start:.0f} s")
    return model["dir"]


def prepare_dataset(spec: dict) -> list[str]:
    """Write the dataset's files into the run's data volume and commit it."""
    _reload(spec["volumes"]["data"])
    if prepare_files(spec["data"]):
        _commit(spec["volumes"]["data"])
    return spec["data"]["files"]


def prepare_files(data: dict) -> bool:
    """Write and check the dataset's files: idempotent and all-or-nothing. True if it wrote.

    The marker (written last, with the dataset's fingerprint) is what `train` checks, so a
    prepare that dies half way leaves no marker and is simply redone.
    """
    from gym.datasets import read_columns
    from gym.launch.shipping import rebuild_dataset

    folder = str(Path(data["files"][0]).parent)
    want = {"fingerprint": data["fingerprint"], "files": data["files"]}
    if _read_marker(folder) == want and all(Path(f).is_file() for f in data["files"]):
        print(f"[gym] dataset already prepared in {folder}")
        return False
    Path(folder).mkdir(parents=True, exist_ok=True)
    Path(folder, MARKER).unlink(missing_ok=True)
    if not data["uploaded"]:
        rebuild_dataset(data["spec"]).prepare()
    missing = [f for f in data["files"] if not Path(f).is_file()]
    if missing:
        raise RuntimeError(f"[gym] prepare() did not write {missing}")
    for path in data["files"]:
        columns = read_columns(path)
        needed = [k for k in (data["input_key"], data["label_key"]) if k]
        absent = [k for k in needed if k not in columns]
        if absent:
            raise RuntimeError(f"[gym] {path} has no column(s) {absent}; it has {columns}. "
                               "Set input_key/label_key to existing columns.")
    _write_marker(folder, want)
    print(f"[gym] dataset ready: {data['files']}")
    return True


def train(spec: dict) -> dict:
    """Every node of the cluster runs this; rank 0 runs slime as a Ray job (see cluster.py)."""
    from gym.launch.cluster import run_cluster

    return run_cluster(spec)
