"""Rewards with slime's semantics, so the same reward runs locally and on Modal.

- `Sample` has the attribute names slime's `slime.utils.types.Sample` has (prompt,
  response, label, metadata, tokens, response_length, reward, status, index, group_index),
  so a custom reward written against slime reads the same fields here.
- `custom_rm_path="module.function"` loads `async def f(args, sample, **kwargs)` and awaits
  it, as slime does; it returns a float or a dict (then `reward_key` picks the value).
- A sample's `response` is the text slime's reward sees: special tokens kept and the stop token
  not trimmed (e.g. "4<|im_end|>"), `prompt` the rendered chat text, `metadata` the dataset's
  metadata column (a row's `rm_type` there overrides the config's, as in slime's async_rm).
- Built-in `rm_type`s: `math` and `deepscaler` grade the last `\\boxed{...}` answer against
  the label exactly as slime does (gym.local.math_grading: the same normalisations, sympy and
  pylatexenc; deepscaler only after `</think>`), `boxed_<type>` first replaces the response by
  its boxed answer (as slime does), `random` is a coin flip. slime's dapo, f1, gpqa, ifbench and
  remote_rm are not built in locally: use custom_rm_path.
- A reward may return a number, a bool (True counts 1, as slime's float tensor makes it), or a
  dict with `reward_key` picking the value; `sample.reward` keeps what it returned.

A reward that raises (any exception, also SystemExit), returns NaN, ±inf, a value beyond
float32's range or a wrong type, or takes longer than its timeout, fails the run with a
RewardError naming the sample (rollout, index, row, prompt).
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import math
import random
import threading
import time
from argparse import Namespace
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

from gym.errors import UserError


class RewardError(UserError):
    """A reward function failed or returned something unusable, for a named sample."""


REWARD_TIMEOUT_S = 60.0
"""The most seconds one reward call may take in a local run (run_local(reward_timeout_s=...),
`python -m gym run --reward-timeout`). A setting of the local backend, not a SlimeConfig field:
slime at the pinned a74ae3a0 has no timeout on a custom reward (it awaits it inside the rollout; a
stuck one stops the Modal run only at its budget or the function's timeout), so a field would
promise something the Modal run does not do. 60 s is far above what a grading function needs (the
math rewards take milliseconds) and short enough that a hung call is reported within a minute."""
FLOAT32_MAX = 3.4028234663852886e38
"""The largest finite float32 (IEEE 754 binary32): rewards become a float32 tensor, on slime as
here, so a larger one would be inf there and poison the advantages and the weights."""


@dataclass
class Sample:
    """One generated response, with slime's attribute names."""

    class Status(Enum):
        PENDING = "pending"
        COMPLETED = "completed"
        TRUNCATED = "truncated"
        ABORTED = "aborted"
        FAILED = "failed"

    group_index: int | None = None
    """Index of the prompt within the rollout (samples of one prompt share it)."""
    index: int | None = None
    """Index of the sample within the rollout."""
    prompt: str | list[dict[str, str]] = ""
    tokens: list[int] = field(default_factory=list)
    """Prompt + response token ids."""
    response: str = ""
    response_length: int = 0
    label: str | None = None
    reward: float | dict[str, Any] | None = None
    status: Status = Status.PENDING
    metadata: dict = field(default_factory=dict)
    """The dataset row's metadata column (slime's --metadata-key, default "metadata"), or {}."""
    dataset_row: int | None = None
    """Row number of the prompt in the prompt file, from 0 (gym's, for error messages)."""
    dataset_line: int | None = None
    """The .jsonl line the row is on, from 1 as an editor counts it (gym's, for error messages)."""
    dataset_source: str | None = None
    """The file the row comes from (gym's, for error messages)."""


def make_args(config) -> Namespace:
    """The slime `args` a reward function receives: the config's fields under slime's names."""
    import dataclasses

    values = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    values.pop("wandb", None)  # never hand W&B settings (or anything near a secret) to user code
    values.setdefault("reward_key", None)
    return Namespace(**values)


# ---- built-in rm types ---------------------------------------------------------------------------

def last_boxed(text: str) -> str | None:
    """Content of the last \\boxed{...} in text, or None (slime's extract_answer)."""
    from gym.local.math_grading import extract_answer

    return extract_answer(text)


def math_reward(response: str, label: Any) -> int:
    from gym.local.math_grading import math_score

    return math_score(response, label)


def deepscaler_reward(response: str, label: Any) -> int:
    from gym.local.math_grading import deepscaler_score

    return deepscaler_score(response, label)


BUILTIN: dict[str, Callable[[str, Any], float]] = {
    "math": math_reward,
    "deepscaler": deepscaler_reward,
    "random": lambda response, label: random.randint(0, 1),
}
"""rm_type -> reward(response, label). Others of slime's types need services or data not here."""


def builtin_reward(rm_type: str) -> Callable[[str, Any], float]:
    base = rm_type.removeprefix("boxed_")
    if base not in BUILTIN:
        raise RewardError(f"rm_type={rm_type!r} has no local implementation (local: {', '.join(BUILTIN)}, "
                          "each optionally with boxed_); use custom_rm_path for a local run")
    fn = BUILTIN[base]
    if rm_type.startswith("boxed_"):  # slime grades the boxed answer as if it were the whole response
        return lambda response, label: fn(last_boxed(response) or "", label)
    return fn


# ---- custom rewards ------------------------------------------------------------------------------

def load_custom_reward(path: str) -> Callable:
    """Import `module.function` and check it is `async def` (slime awaits it)."""
    module_name, _, name = path.rpartition(".")
    if not module_name:
        raise RewardError(f"custom_rm_path={path!r} must be 'module.function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise RewardError(f"custom_rm_path={path!r}: cannot import {module_name!r}: {err}") from err
    except Exception as err:  # a syntax error, or an error the module raises as it is imported
        raise RewardError(f"custom_rm_path={path!r}: importing {module_name!r} failed: {type(err).__name__}: "
                          f"{err}") from err
    fn = getattr(module, name, None)
    if fn is None:
        raise RewardError(f"custom_rm_path={path!r}: {module_name!r} has no {name!r}")
    if not inspect.iscoroutinefunction(fn):
        raise RewardError(f"custom_rm_path={path!r} must be `async def {name}(args, sample, **kwargs)`: slime awaits it")
    return fn


class Scorer:
    """Scores samples with the config's reward, checking each value (and each call's time)."""

    def __init__(self, config, timeout_s: float = REWARD_TIMEOUT_S):
        self.args = make_args(config)
        self.reward_key = getattr(config, "reward_key", None)
        self.timeout_s = timeout_s
        if config.custom_rm_path:
            self.name = config.custom_rm_path
            self._custom = load_custom_reward(config.custom_rm_path)
            self._builtin = None
        else:
            self.name = f"rm_type={config.rm_type!r}"
            self._custom = None
            self._builtin = builtin_reward(config.rm_type) if config.rm_type else None
            self._rm_type = config.rm_type

    def __call__(self, samples: list[Sample], rollout_id: int) -> list[float]:
        raw = self._score_all(samples, rollout_id)
        return [self._check(value, s, rollout_id) for value, s in zip(raw, samples)]

    def _score_all(self, samples: list[Sample], rollout_id: int) -> list:
        """Every sample's reward: the calls run concurrently (slime's asyncio.gather) in a thread of
        their own, watched from here. A call over `timeout_s` is a RewardError naming its sample,
        whether it awaits forever or blocks its thread; the stuck thread is left behind as a daemon
        (Python cannot stop it), the run goes on to report the error."""
        running: dict[int, float] = {}  # sample position -> when its call started
        outcome: dict = {}
        done = threading.Event()

        async def one(i: int, s: Sample):
            running[i] = time.monotonic()
            try:
                if self._custom is not None:
                    return await self._custom(self.args, s)
                return self._builtin_for(s)(s.response, s.label)
            except (Exception, SystemExit) as err:  # SystemExit too: a reward must not end the process
                raise self._error(s, rollout_id, f"raised {type(err).__name__}: {err}") from None
            finally:
                running.pop(i, None)

        async def gather():
            return await asyncio.gather(*(one(i, s) for i, s in enumerate(samples)))

        def work():
            try:
                outcome["values"] = asyncio.run(gather())
            except BaseException as err:  # noqa: BLE001 - handed to the caller's thread
                outcome["error"] = err
            finally:
                done.set()

        threading.Thread(target=work, name="gym-reward", daemon=True).start()
        while not done.is_set():
            now = time.monotonic()
            started = list(running.items())
            late = [i for i, t in started if now - t > self.timeout_s]
            if late:
                raise self._error(samples[late[0]], rollout_id,
                                  f"took longer than {self.timeout_s:g} s (reward_timeout_s) and was abandoned")
            first = min((t for _, t in started), default=now)
            done.wait(max(0.01, first + self.timeout_s - now))
        if "error" in outcome:
            raise outcome["error"]
        return outcome["values"]

    def _builtin_for(self, sample: Sample):
        """slime's async_rm: a row's metadata["rm_type"] overrides the config's rm_type."""
        rm_type = (sample.metadata.get("rm_type") if isinstance(sample.metadata, dict) else None) or self._rm_type
        if not rm_type:
            raise RewardError("no rm_type (neither in the config nor in the row's metadata)")
        return self._builtin if rm_type == self._rm_type else builtin_reward(rm_type.strip())

    def _check(self, value, sample: Sample, rollout_id: int) -> float:
        sample.reward = value  # as slime: the value as returned (a dict stays a dict)
        if isinstance(value, dict):
            if self.reward_key is None or self.reward_key not in value:
                raise self._error(sample, rollout_id, f"returned a dict with keys {sorted(value)}; set reward_key "
                                  "to the one to train on")
            value = value[self.reward_key]
        if not isinstance(value, (int, float)):  # bool is an int: slime's float tensor reads True as 1.0
            raise self._error(sample, rollout_id, f"returned {value!r} ({type(value).__name__}); expected a float "
                              "(or a dict with reward_key)")
        if isinstance(value, float) and not math.isfinite(value):
            raise self._error(sample, rollout_id, f"returned {value}")
        if abs(value) > FLOAT32_MAX:  # compared exactly, also for an int too large for a float
            raise self._error(sample, rollout_id, f"returned {value!r:.40}, beyond float32's range "
                              f"(±{FLOAT32_MAX:.4g}): rewards are trained on as float32")
        return float(value)

    def _error(self, sample: Sample, rollout_id: int, what: str) -> RewardError:
        prompt = sample.prompt if isinstance(sample.prompt, str) else sample.prompt[-1].get("content", "")
        where = f"dataset row {sample.dataset_row}"
        if sample.dataset_line:  # as an editor counts it
            where += f", {sample.dataset_source} line {sample.dataset_line}"
        return RewardError(f"reward {self.name} {what} on rollout {rollout_id}, sample {sample.index} "
                           f"({where}: prompt {str(prompt)[:80]!r}, "
                           f"response {sample.response[:80]!r}, label {sample.label!r})")
