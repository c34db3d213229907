"""The Modal app, built offline and inspected with Function.info(); plus the launch pre-flight."""

import json
import sys

import modal
import pytest

from gym import GSM8K, LocalDataset, SlimeConfig, WandbConfig
from gym.datasets import HuggingFaceDataset
from gym.launch.app import TRAIN_RETRIES, TRAIN_TIMEOUT_S, build_run_app
from gym.launch.launcher import LaunchError, missing_credentials, preflight
from gym.launch.shipping import plan_shipment, rebuild_dataset
from gym.models import Qwen3_32B


def run_app(**kwargs):
    config = SlimeConfig(**kwargs)
    config.validate()
    return build_run_app(config.resolve())


def test_app_is_named_after_the_run_and_has_four_functions():
    ra = run_app(name="my-run", num_nodes=2)
    assert isinstance(ra.app, modal.App)
    assert ra.app.name == "gym-my-run" == ra.spec["app_name"]  # deployed per run (launcher.start)
    assert ra.app.train is ra.train and ra.app.gym is ra


def test_single_node_train_function():
    info = run_app(name="one").train.info()
    assert info.gpus == [("H100", 8)]
    assert info.cluster_info is None  # one node: not a cluster, no RDMA
    assert info.timeout == TRAIN_TIMEOUT_S
    assert info.max_retries == TRAIN_RETRIES
    assert set(info.volumes) == {"/root/.cache/huggingface", "/data", "/checkpoints"}
    assert info.volumes["/data"].name == "one-data"
    assert info.volumes["/checkpoints"].name == "one-checkpoints"
    assert info.volumes["/root/.cache/huggingface"].name == "huggingface-cache"
    assert info.cpu >= 16 and info.memory_mib >= 128 * 1024


def test_multi_node_train_function_is_clustered_with_rdma():
    info = run_app(name="four", num_nodes=4, gpu_type="H200").train.info()
    assert info.gpus == [("H200", 8)]
    assert info.cluster_info.size == 4 and info.cluster_info.rdma is True


def test_cpu_functions_have_no_gpu_and_their_own_volumes():
    ra = run_app(name="cpu")
    download, prepare = ra.download_model.info(), ra.prepare_dataset.info()
    assert not download.gpus and not prepare.gpus
    assert set(download.volumes) == {"/root/.cache/huggingface"}
    assert prepare.volumes["/data"].name == "cpu-data"


def test_secrets_attached_only_where_needed():
    ra = run_app(name="logged", wandb=WandbConfig(project="p", group="g", secret_name="my-wandb"))
    assert any("my-wandb" in s for s in ra.train.info().secrets)
    assert not ra.download_model.info().secrets
    assert ra.secrets == ("my-wandb",)
    assert ra.spec["required_env"] == ["WANDB_API_KEY"]
    assert not run_app(name="quiet").train.info().secrets


def test_larger_models_reserve_more_host_memory():
    assert run_app(name="big", model=Qwen3_32B()).train.info().memory_mib > run_app(name="small").train.info().memory_mib


def test_spec_is_plain_data_and_matches_argv():
    ra = run_app(name="spec", num_nodes=2)
    text = json.dumps(ra.spec)  # plain data: travels to Python 3.12 whatever Python runs here
    assert json.loads(text)["argv"] == SlimeConfig(name="spec", num_nodes=2).slime_argv()
    assert ra.spec["data"]["spec"]["module"] == "gym.datasets"
    assert ra.spec["volumes"] == {"hf_cache": "huggingface-cache", "data": "spec-data", "checkpoints": "spec-checkpoints"}


def test_building_twice_gives_independent_apps():
    a, b = run_app(name="a-run"), run_app(name="b-run", num_nodes=4)
    assert a.train.info().cluster_info is None and b.train.info().cluster_info.size == 4


def test_local_entrypoint_is_registered():
    import warnings

    ra = run_app(name="cli")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # registered_entrypoints is deprecated, with no replacement yet
        assert "main" in ra.app.registered_entrypoints


# ---- shipping user code --------------------------------------------------------------------------

def _main_class(name, attrs):
    cls = type(name, (HuggingFaceDataset,), attrs)
    cls.__module__ = "__main__"
    return cls


def test_notebook_dataset_with_only_attributes_travels_as_data():
    cls = _main_class("MyData", {"hf_repo": "me/my-data", "input_key": "q", "label_key": "a"})
    shipment = plan_shipment(cls("/data"), None)
    assert shipment.refusal is None
    assert shipment.dataset_spec["module"] == "gym.datasets"
    rebuilt = rebuild_dataset(shipment.dataset_spec)
    assert (rebuilt.hf_repo, rebuilt.input_key, rebuilt.label_key) == ("me/my-data", "q", "a")
    assert rebuilt.prompt_data == "/data/me_my-data/train.parquet"


def test_notebook_dataset_with_code_is_refused_before_launch_with_the_fix():
    cls = _main_class("GSM8KDataset", {"hf_repo": "zhuzilin/gsm8k", "input_key": "messages", "label_key": "label",
                                       "prepare": lambda self: None})
    ra = run_app(name="nb", dataset=cls("/data"))
    assert "GSM8KDataset" in ra.shipment.refusal and "prepare" in ra.shipment.refusal
    assert "Move GSM8KDataset into a .py file" in ra.shipment.refusal
    with pytest.raises(LaunchError) as info:
        preflight(ra)
    assert "nothing was created" in str(info.value)


def test_dataset_in_a_module_is_shipped_with_the_image(tmp_path, monkeypatch):
    (tmp_path / "my_datasets.py").write_text(
        "from gym.datasets import HuggingFaceDataset\n"
        "class Mine(HuggingFaceDataset):\n    hf_repo = 'me/x'\n    def prepare(self):\n        pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from my_datasets import Mine

    ra = run_app(name="mod", dataset=Mine("/data"), rm_type="random")
    assert ra.shipment.refusal is None and ra.shipment.modules == ("my_datasets",)
    assert ra.spec["data"]["spec"] == {"module": "my_datasets", "qualname": "Mine",
                                       "state": {"data_root": "/data", "prompt_data": "/data/me_x/train.parquet",
                                                 "eval_prompt_data": None}}
    sys.modules.pop("my_datasets", None)


def test_local_files_are_uploaded(tmp_path):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"input": "1+1", "label": "2"}\n')
    ra = run_app(name="up", dataset=LocalDataset(rows, label_key="label"))
    assert ra.shipment.uploads == {str(rows): "/data/rows/train.jsonl"}
    assert ra.spec["data"]["uploaded"] is True


def test_preflight_without_credentials_names_what_is_missing():
    assert "modal setup" in missing_credentials()
    with pytest.raises(LaunchError) as info:
        preflight(run_app(name="nocreds", dataset=GSM8K()))
    assert "no Modal credentials" in str(info.value) and "MODAL_TOKEN_ID" in str(info.value)


def test_launch_refuses_invalid_config_before_modal():
    from gym import ConfigError
    from gym.launch.launcher import launch

    with pytest.raises(ConfigError):
        launch(SlimeConfig(num_nodes=0))


# ---- images modal can load -------------------------------------------------------------------------

def _every_function_gym_builds():
    """Every Modal function gym builds, by name: the run app's (colocated, and split on 2 nodes)
    and the serve app's."""
    from gym.launch.serve import build_serve_app

    out = {}
    for label, kwargs in (("train", {"name": "img-colo"}), ("split train", {"name": "img-split", "num_nodes": 2,
                                                                              "colocate": False})):
        ra = run_app(**kwargs)
        for fn in ("pipeline", "download_model", "prepare_dataset", "train"):
            out[f"{label}: {fn}"] = getattr(ra, fn)
    config = SlimeConfig(name="img-serve")
    serving = build_serve_app(config, max_usd=100)
    out["serve: evaluate"], out["serve: serve"] = serving.evaluate, serving.serve
    return out


def test_every_image_gym_builds_has_no_build_step_above_local_files():
    """modal refuses, when the image loads, a build step (.env, .run_commands, ...) above
    add_local_* files; Function.info() cannot show it, so walk each image's layers."""
    from gym.launch.images import check_image, function_image

    functions = _every_function_gym_builds()
    assert len(functions) == 10
    for where, fn in functions.items():
        layers = check_image(function_image(fn), where)  # modal's own _assert_no_mount_layers, per build step
        kinds = [layer.kind for layer in layers]
        assert "local files" in kinds, where  # gym itself travels as local files
        first_files = kinds.index("local files")
        assert "build step" not in kinds[first_files:], f"{where}: {layers}"


def test_the_image_walk_raises_modals_own_error_and_allows_copied_files():
    from modal.exception import InvalidError

    from gym.launch.images import check_image

    bad = modal.Image.debian_slim().add_local_python_source("gym").env({"A": "1"})
    with pytest.raises(InvalidError, match=r"(?s)the build step 'env' sits above local files.*"
                                           r"An image tried to run a build step after using `image.add_local_\*`"):
        check_image(bad, "bad")
    copied = modal.Image.debian_slim().add_local_python_source("gym", copy=True).env({"A": "1"})
    assert [layer.kind for layer in check_image(copied)] == ["build step"] * 3  # copy=True is a build step
    stacked = modal.Image.debian_slim().add_local_python_source("gym").add_local_python_source("json")
    assert [layer.kind for layer in check_image(stacked)] == ["build step", "local files", "local files"]
