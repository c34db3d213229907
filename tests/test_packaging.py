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


def test_a_skipped_browser_test_is_said_on_screen(tmp_path):
    """The README's test command prints why the browser test was skipped and how to run it (no -rs)."""
    import shutil
    import subprocess
    import sys

    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_browser.py").write_text(
        "import pytest\npytest.skip(\"Debian's chromium is not installed (apt-get install chromium)\", "
        "allow_module_level=True)\n")
    (tmp_path / "test_other.py").write_text("import pytest\n\ndef test_x():\n    pytest.skip('another reason')\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    notes = [line for line in out.stdout.splitlines() if line.startswith("NOTE:")]
    assert notes == ["NOTE: the browser test was SKIPPED (Debian's chromium is not installed (apt-get install "
                     "chromium)). To run it: install Debian's chromium (sudo apt-get install chromium "
                     "fonts-liberation) and run scripts/test.sh tests/test_browser.py; .ci/run installs it and "
                     "requires the test (GYM_REQUIRE_BROWSER=1)."]
