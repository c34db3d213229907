"""Use a run's trained model on Modal: score GSM8K's test split, and serve it behind a web endpoint.

    serving = build_serve_app(config, max_usd=10)      # offline: a modal.App, nothing created yet
    with serving.app.run():                             # ephemeral: everything stops when the block ends
        before = serving.evaluate.remote("base")        # the downloaded model, as the run started
        after = serving.evaluate.remote("latest")       # the run's latest checkpoint
        url = serving.serve.get_web_url()               # OpenAI-compatible: POST {url}/v1/chat/completions

Two functions, each on one GPU of the run's type, in the run's pinned slime image (so SGLang is the
one slime rolled out with), with the run's volumes (the HF cache, its data, its checkpoints):

- `evaluate(weights)`: weights "latest" converts the latest checkpoint (slime saves Megatron
  torch_dist) to Hugging Face format with slime's own `tools/convert_torch_dist_to_hf.py`, once,
  into `<iter>_hf` next to it; "base" uses the downloaded model. It starts an SGLang server on those
  weights, answers every prompt of the run's evaluation file (GSM8K: the test split, 1,319 rows)
  greedily with up to `rollout_max_response_len` tokens, scores each answer with slime's math
  rule (the last \\boxed{} against the label: gym.local.rewards.math_reward) and returns the
  accuracy with a few examples.
- `serve`: the same server behind a Modal web endpoint (`modal.web_server`), on the latest
  checkpoint. One container at most; it scales to zero after SCALEDOWN_S without requests. The
  endpoint requires Modal proxy auth (a GPU behind a public URL is anyone's to spend): send the
  headers `Modal-Key` and `Modal-Secret` of a proxy auth token (Modal dashboard, Settings → Proxy
  Auth Tokens); `call_endpoint` does.

Cost bound (decided here): the app runs ephemerally (`app.run()`), so nothing outlives the
block that started it; `serve_bound_usd` is the price of the evaluation's timeout plus the
serving session's, on one GPU, and `build_serve_app(max_usd=...)` refuses, before anything
is created, when that bound exceeds max_usd. Deploying it (`modal deploy`) instead would keep
the endpoint until `modal app stop`: then the bound no longer holds, which is why gym does not.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PORT = 30000
"""SGLang's port inside the container (the web endpoint forwards to it)."""
EVAL_TIMEOUT_S = 3600
"""The evaluation function's timeout: conversion, server start-up and 1,319 greedy answers fit easily."""
SERVE_TIMEOUT_S = 3600
"""Longest life of one serving container."""
SCALEDOWN_S = 300
"""A serving container stops after this many seconds without a request."""
STARTUP_TIMEOUT_S = 1200
"""Conversion plus SGLang's start-up (weights, CUDA graphs) before the endpoint answers."""
SPEC_ENV = "GYM_SERVE_SPEC"
"""The environment variable that carries the serve spec (plain data, no secrets) into the
containers (the functions' `env=`, not an image layer: see gym.launch.images)."""
EXAMPLES = 5


class ServeError(RuntimeError):
    """The serve app cannot be built as asked (over the cost bound), or found no checkpoint."""


def serve_bound_usd(config, evaluations: int = 1) -> float:
    """Upper bound of `evaluations` evaluations plus one serving session, in US dollars: one GPU
    of the run's type (with its CPU and memory) for evaluations × EVAL_TIMEOUT_S + SERVE_TIMEOUT_S.
    (Lesson 06 evaluates twice, the base model and the trained one: evaluations=2.)"""
    from gym import pricing

    per_hour = pricing.container_usd_per_hour(config.resolve().config.gpu_type, 1, 8, 64)
    return per_hour * (evaluations * EVAL_TIMEOUT_S + SERVE_TIMEOUT_S) / 3600


def serve_spec(r) -> dict[str, Any]:
    """What the container side needs, as plain data."""
    from gym.launch.app import volume_names
    from gym.paths import model_dir
    from gym.slime.argv import checkpoint_dir

    c, ds = r.config, r.dataset
    eval_data = list(ds.eval_prompt_data or [])
    return {
        "name": r.name,
        "model_dir": model_dir(r.model.model_name),
        "checkpoint_dir": checkpoint_dir(r.name),
        "eval_path": eval_data[1] if len(eval_data) > 1 else None,
        "input_key": ds.input_key,
        "label_key": ds.label_key,
        "max_tokens": c.rollout_max_response_len,
        "volumes": volume_names(r.name),
    }


@dataclass(frozen=True)
class ServeApp:
    """A built (not yet running) serve app: `app` is a real modal.App."""

    app: Any
    evaluate: Any
    """modal Function: evaluate(weights="latest" | "base", limit=None) -> dict."""
    serve: Any
    """modal Function with a web endpoint (OpenAI-compatible /v1/chat/completions)."""
    bound_usd: float
    """serve_bound_usd of the config: the most its evaluations plus one serving session can cost."""
    spec: dict


def build_serve_app(config, *, max_usd: float, evaluations: int = 1) -> ServeApp:
    """The serve app of `config`'s run, built offline (no credentials, no network). Refuses with
    ServeError when its cost bound (`evaluations` evaluations and one serving session) exceeds max_usd."""
    import modal

    from gym.launch.app import slime_image
    from gym.launch.images import check_functions
    from gym.launch.shipping import plan_shipment
    from gym.paths import CHECKPOINTS_PATH, DATA_PATH, HF_CACHE_PATH

    r = config.resolve()
    bound = serve_bound_usd(config, evaluations)
    if not max_usd or bound > max_usd:
        raise ServeError(f"evaluating ({evaluations}×) and serving {r.name} costs at most ${bound:,.2f} (one "
                         f"{r.config.gpu_type} for {(evaluations * EVAL_TIMEOUT_S + SERVE_TIMEOUT_S) / 3600:.0f} h); "
                         f"max_usd={max_usd!r} is below that: "
                         f"pass max_usd={bound:.0f} or more")
    spec = serve_spec(r)
    # The spec goes in as the functions' environment (modal attaches it as a Secret.from_dict),
    # not as an image layer: a build step above the image's local files is refused when the
    # image loads (gym.launch.images).
    image = slime_image(plan_shipment(r.dataset, r.config.custom_rm_path))
    env = {SPEC_ENV: json.dumps(spec)}
    names = spec["volumes"]
    volumes = {HF_CACHE_PATH: modal.Volume.from_name(names["hf_cache"], create_if_missing=True),
               DATA_PATH: modal.Volume.from_name(names["data"], create_if_missing=True),
               CHECKPOINTS_PATH: modal.Volume.from_name(names["checkpoints"], create_if_missing=True)}
    gpu = f"{r.config.gpu_type}:1"
    app = modal.App(f"{r.name}-serve", tags={"gym.model": r.model.short_name})
    evaluate_fn = app.function(image=image, gpu=gpu, cpu=8, memory=64 * 1024, volumes=volumes, env=env,
                               timeout=EVAL_TIMEOUT_S)(evaluate)
    serve_fn = app.function(image=image, gpu=gpu, cpu=8, memory=64 * 1024, volumes=volumes, env=env,
                            timeout=SERVE_TIMEOUT_S, scaledown_window=SCALEDOWN_S, max_containers=1)(
        modal.web_server(PORT, startup_timeout=STARTUP_TIMEOUT_S, requires_proxy_auth=True)(serve))
    check_functions({"evaluate": evaluate_fn, "serve": serve_fn})
    return ServeApp(app=app, evaluate=evaluate_fn, serve=serve_fn, bound_usd=bound, spec=spec)


# ---- container side (the slime image, Python 3.12; imported by name, never pickled) ---------------

def _spec() -> dict:
    return json.loads(os.environ[SPEC_ENV])


def latest_checkpoint(checkpoint_dir: str | Path) -> Path:
    """The folder of the latest complete save: slime's tracker file names its iteration."""
    root = Path(checkpoint_dir)
    tracker = root / "latest_checkpointed_iteration.txt"
    if not tracker.is_file():
        raise ServeError(f"{root} has no checkpoint yet (no latest_checkpointed_iteration.txt): "
                         "train with a save_interval first")
    it = tracker.read_text().strip()
    return root / ("release" if it == "release" else f"iter_{int(it):07d}")


def hf_weights(spec: dict, weights: str) -> str:
    """A Hugging Face folder of the asked weights: "base" (the downloaded model) or "latest"
    (the latest checkpoint, converted once with slime's tool into <iter>_hf)."""
    from gym.paths import SLIME_ROOT

    if weights == "base":
        return spec["model_dir"]
    if weights != "latest":
        raise ValueError(f"weights={weights!r}: 'latest' or 'base'")
    import modal

    volume = modal.Volume.from_name(spec["volumes"]["checkpoints"])
    volume.reload()
    source = latest_checkpoint(spec["checkpoint_dir"])
    out = Path(f"{source}_hf")
    if not (out / "config.json").is_file():
        subprocess.run([sys.executable, f"{SLIME_ROOT}/tools/convert_torch_dist_to_hf.py", "--input-dir", str(source),
                        "--output-dir", str(out), "--origin-hf-dir", spec["model_dir"], "--force"],
                       check=True, env={**os.environ, "PYTHONPATH": "/root/Megatron-LM/"})
        volume.commit()
    return str(out)


def start_server(model_path: str, name: str) -> subprocess.Popen:
    """SGLang's OpenAI-compatible server on PORT (all interfaces, so the web endpoint reaches it)."""
    return subprocess.Popen([sys.executable, "-m", "sglang.launch_server", "--model-path", model_path,
                             "--served-model-name", name, "--host", "0.0.0.0", "--port", str(PORT)])


def wait_ready(proc: subprocess.Popen, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    import urllib.request

    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise ServeError(f"the SGLang server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=5):
                return
        except OSError:
            time.sleep(5)
    raise ServeError(f"the SGLang server was not ready after {timeout_s:.0f} s")


def chat(messages, name: str, max_tokens: int, url: str = f"http://127.0.0.1:{PORT}") -> str:
    """One greedy answer from an OpenAI-compatible server."""
    import urllib.request

    body = json.dumps({"model": name, "messages": messages, "temperature": 0, "max_tokens": max_tokens}).encode()
    request = urllib.request.Request(f"{url}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())["choices"][0]["message"]["content"] or ""


def call_endpoint(url: str, question: str, *, key: str, secret: str, max_tokens: int = 1024) -> str:
    """Ask the served model one question through its web endpoint (from anywhere: your laptop,
    a notebook). key, secret: a Modal proxy auth token's (never print them)."""
    import urllib.request

    body = json.dumps({"messages": [{"role": "user", "content": question}], "temperature": 0,
                       "max_tokens": max_tokens}).encode()
    request = urllib.request.Request(f"{url.rstrip('/')}/v1/chat/completions", data=body, headers={
        "Content-Type": "application/json", "Modal-Key": key, "Modal-Secret": secret})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read())["choices"][0]["message"]["content"] or ""


def evaluate(weights: str = "latest", limit: int | None = None) -> dict:
    """Accuracy of the asked weights on the run's evaluation file (slime's math rule, greedy)."""
    from concurrent.futures import ThreadPoolExecutor

    import modal
    from datasets import load_dataset

    from gym.local.rewards import math_reward

    spec = _spec()
    if not spec["eval_path"]:
        raise ServeError(f"run {spec['name']} has no evaluation data (the dataset's eval_prompt_data)")
    modal.Volume.from_name(spec["volumes"]["data"]).reload()
    path = hf_weights(spec, weights)
    proc = start_server(path, spec["name"])
    try:
        wait_ready(proc)
        kind = "parquet" if spec["eval_path"].endswith(".parquet") else "json"
        rows = load_dataset(kind, data_files=spec["eval_path"], split="train")
        rows = rows.select(range(min(limit, len(rows)))) if limit else rows

        def answer(row) -> tuple[str, str, int]:
            prompt = row[spec["input_key"]]
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            text = chat(messages, spec["name"], spec["max_tokens"])
            return messages[-1]["content"], text, math_reward(text, row[spec["label_key"]])

        with ThreadPoolExecutor(64) as pool:  # SGLang batches concurrent requests
            results = list(pool.map(answer, rows))
    finally:
        proc.terminate()
    correct = sum(score for _, _, score in results)
    return {"weights": weights, "path": path, "n": len(results), "accuracy": correct / max(len(results), 1),
            "examples": [{"prompt": p, "response": t[-400:], "correct": bool(s)} for p, t, s in results[:EXAMPLES]]}


def serve() -> None:
    """The web endpoint's body: convert the latest checkpoint if needed, then start SGLang on PORT
    (modal.web_server forwards requests once the port accepts connections)."""
    spec = _spec()
    start_server(hf_weights(spec, "latest"), spec["name"])
