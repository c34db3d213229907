"""What the CPU containers do to the data volume, run here on a temp folder with real `datasets`."""

import json

import pytest

from gym.datasets import HuggingFaceDataset, read_columns
from gym.launch.remote import MARKER, prepare_files
from gym.launch.shipping import plan_shipment

ROWS = [{"messages": [{"role": "user", "content": f"What is {i} + 1?"}], "label": str(i + 1)} for i in range(5)]


class LocalHF(HuggingFaceDataset):
    """A HuggingFaceDataset whose prepare() builds its rows locally (tests make their own data)."""

    hf_repo = "tests/local-rows"
    input_key = "messages"
    label_key = "label"
    calls = 0

    def prepare(self):
        from datasets import Dataset

        from gym.datasets import write_parquet_atomically

        type(self).calls += 1
        write_parquet_atomically(Dataset.from_list(ROWS), self.prompt_data)


def data_spec(ds, fingerprint="f1"):
    shipment = plan_shipment(ds, None)
    return {"spec": shipment.dataset_spec, "files": ds.output_files(), "input_key": ds.input_key,
            "label_key": ds.label_key, "fingerprint": fingerprint, "uploaded": False}


def test_prepare_writes_checks_and_marks(tmp_path):
    LocalHF.calls = 0
    ds = LocalHF(tmp_path)
    assert prepare_files(data_spec(ds)) is True
    assert set(read_columns(ds.prompt_data)) == {"messages", "label"}
    marker = json.loads((tmp_path / "tests_local-rows" / MARKER).read_text())
    assert marker["fingerprint"] == "f1"
    assert prepare_files(data_spec(ds)) is False  # idempotent: nothing rewritten
    assert LocalHF.calls == 1
    assert prepare_files(data_spec(ds, fingerprint="f2")) is True  # changed dataset: prepared again
    assert LocalHF.calls == 2


class WrongKey(LocalHF):
    label_key = "answer"


class Lazy(LocalHF):
    def prepare(self):
        pass


def test_prepare_rejects_missing_columns_and_leaves_no_marker(tmp_path):
    ds = WrongKey(tmp_path)
    with pytest.raises(RuntimeError, match=r"no column\(s\) \['answer'\]; it has \['messages', 'label'\]"):
        prepare_files(data_spec(ds))
    assert not (tmp_path / "tests_local-rows" / MARKER).exists()


def test_prepare_that_writes_nothing_fails(tmp_path):
    with pytest.raises(RuntimeError, match="did not write"):
        prepare_files(data_spec(Lazy(tmp_path)))
