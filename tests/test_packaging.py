"""pyproject.toml as setuptools reads it: no deprecation warning when installing."""

import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_pyproject_license_is_spdx_and_setuptools_reads_it_without_warnings():
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = apply_configuration(Distribution(), str(ROOT / "pyproject.toml"))
    assert [str(w.message) for w in caught] == []  # a license table warns "deprecated" here
    assert dist.metadata.license_expression == "MIT"
