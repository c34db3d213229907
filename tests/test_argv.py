"""The slime argv: every flag is the pinned image's, every value parses as that flag's type.

`pinned_flags.json` is the pinned image's own parser, dumped by scripts/dump_slime_flags.py.
The last test runs slime's real parser when its sources are present (GYM_SLIME_SRC).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gym import SlimeConfig
from gym.models import MODELS
from gym.slime.argv import SECRET_FLAGS, UnknownFlagError, _check_known, build_argv, pinned, pinned_flags

ROOT = Path(__file__).resolve().parents[1]


def all_valid_argvs():
    sys.path.insert(0, str(ROOT / "scripts"))
    from emit_argvs import configs

    out = []
    for config in configs():
        if not any(p.severity == "error" for p in config.problems()):
            out.append(config.slime_argv())
    return out


ARGVS = all_valid_argvs()


def parse_like_argparse(argv: list[str]) -> dict[str, list[str]]:
    """Group argv into flag -> values using the pinned metadata; fail on anything argparse would reject."""
    flags = pinned_flags()
    seen: dict[str, list[str]] = {}
    i = 1
    while i < len(argv):
        flag = argv[i]
        assert flag in flags, f"unknown flag {flag}"
        meta = flags[flag]
        i += 1
        values = []
        while i < len(argv) and not (argv[i].startswith("--") and argv[i] in flags):
            values.append(argv[i])
            i += 1
        if not meta["takes_value"]:
            assert values == [], f"{flag} takes no value, got {values}"
        elif meta["nargs"] in ("+", "*"):
            assert values or meta["nargs"] == "*", f"{flag} needs values"
        else:
            assert len(values) == (meta["nargs"] or 1), f"{flag} takes {meta['nargs'] or 1} value(s), got {values}"
        for v in values:
            if meta["type"] == "int":
                int(v)
            elif meta["type"] == "float":
                float(v)
            if meta["choices"]:
                assert v in meta["choices"], f"{flag} {v} not in {meta['choices']}"
        assert flag not in seen, f"{flag} given twice"
        seen[flag] = values
    return seen


def test_the_pin_is_recorded():
    meta = pinned()
    assert meta["image"] == "slimerl/slime:nightly-dev-20260810a-cu129"
    assert meta["megatron_commit"].startswith("1dcf0daf")
    assert meta["sglang_version"] == "0.5.15.post1"
    assert len(meta["slime_commit"]) == 40
    assert len(pinned_flags()) > 1000


def test_version_skew_flags_are_absent():
    """Flags of older images that the pinned slime would silently ignore."""
    for stale in ("--megatron-to-hf-mode", "--qkv-format", "--train-memory-margin-bytes", "--use-slime-router"):
        assert stale not in pinned_flags()


@pytest.mark.parametrize("argv", ARGVS, ids=[f"argv{i}" for i in range(len(ARGVS))])
def test_argv_parses_with_pinned_metadata(argv):
    flags = parse_like_argparse(argv)
    assert argv[0] in ("/root/slime/train.py", "/root/slime/train_async.py")
    assert not set(flags) & set(SECRET_FLAGS)
    assert ("--colocate" in flags) == (argv[0] == "/root/slime/train.py")  # colocated: train.py, always --colocate


def test_enough_layouts_are_covered():
    assert len(ARGVS) >= 40  # 7 presets × 3 node counts × 2 layouts, minus 2 invalid, plus lesson options


@pytest.mark.parametrize("name", list(MODELS))
def test_every_preset_argv(name):
    config = SlimeConfig(model=name)
    argv = config.slime_argv()
    flags = parse_like_argparse(argv)
    arch = config.resolve().model.architecture
    assert flags["--num-layers"] == [str(arch.num_layers)]
    assert flags["--num-query-groups"] == [str(arch.num_query_groups)]
    assert flags["--tensor-model-parallel-size"] == [str(config.resolve().layout.tp)]
    assert flags["--hf-checkpoint"] == [f"/root/.cache/huggingface/gym-models/{config.resolve().model.model_name}"]
    assert flags["--lr-decay-style"] == ["constant"]  # not Megatron's linear-to-zero default
    assert flags["--attention-dropout"] == ["0.0"] and flags["--hidden-dropout"] == ["0.0"]
    assert ("--num-experts" in flags) == arch.is_moe


def test_load_and_save_are_the_runs_own_folder():
    flags = parse_like_argparse(SlimeConfig(name="exp-1").slime_argv())
    assert flags["--load"] == flags["--save"] == ["/checkpoints/exp-1"]
    assert flags["--save-interval"] == ["20"]


def test_sequence_parallel_only_with_tp():
    assert "--sequence-parallel" not in SlimeConfig(sequence_parallel=True).slime_argv()
    assert "--sequence-parallel" in SlimeConfig(sequence_parallel=True, tensor_model_parallel_size=2).slime_argv()


def test_unknown_flag_is_refused_by_the_builder():
    with pytest.raises(UnknownFlagError):
        _check_known(["/root/slime/train.py", "--rollout-num-gpu", "8"])
    with pytest.raises(UnknownFlagError):
        _check_known(["/root/slime/train.py", "--wandb-key", "x"])


def test_extra_args_are_appended_verbatim():
    argv = SlimeConfig(extra_args=["--rollout-top-k", "20"]).slime_argv()
    assert argv[-2:] == ["--rollout-top-k", "20"]


@pytest.mark.skipif(not os.environ.get("GYM_SLIME_SRC"), reason="set GYM_SLIME_SRC=<slime>:<Megatron-LM>:<sglang> "
                    "source checkouts and GYM_SLIME_PYTHON to a Python that can import them")
def test_real_slime_parser_accepts_every_argv(tmp_path):
    slime, megatron, sglang = os.environ["GYM_SLIME_SRC"].split(":")
    argv_file = tmp_path / "argvs.json"
    argv_file.write_text(json.dumps(ARGVS))
    out = subprocess.run([os.environ.get("GYM_SLIME_PYTHON", sys.executable),
                          str(ROOT / "scripts" / "check_argv_with_slime_parser.py"), "--slime-src", slime,
                          "--megatron-src", megatron, "--sglang-src", sglang, str(argv_file)],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(ARGVS)} passed, 0 failed" in out.stdout


def test_build_argv_is_deterministic():
    r = SlimeConfig(num_nodes=2).resolve()
    assert build_argv(r) == build_argv(r)
