"""Offline, isolated test environment: no hub, no W&B servers, no Modal token, a temp HOME."""

import os
import tempfile

_home = tempfile.mkdtemp(prefix="gym-test-home-")
os.environ.update({
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "WANDB_MODE": "disabled",
    "HOME": _home,
    "XDG_CONFIG_HOME": os.path.join(_home, ".config"),
    "XDG_CACHE_HOME": os.path.join(_home, ".cache"),
    "MPLCONFIGDIR": os.path.join(_home, ".config", "matplotlib"),
    "TOKENIZERS_PARALLELISM": "false",
})
# A fake Modal token makes every Modal call hang for a minute: make sure none is set.
for var in ("MODAL_TOKEN_ID", "MODAL_TOKEN_SECRET", "MODAL_PROFILE", "WANDB_API_KEY", "HF_TOKEN"):
    os.environ.pop(var, None)


BROWSER_HOW = ("install Debian's chromium (sudo apt-get install chromium fonts-liberation) and run "
               "scripts/test.sh tests/test_browser.py; .ci/run installs it and requires the test "
               "(GYM_REQUIRE_BROWSER=1)")


def pytest_terminal_summary(terminalreporter):
    """Say on screen, without -rs, when the browser test was skipped and how to get it."""
    for report in terminalreporter.stats.get("skipped", []):
        if report.nodeid.split("::")[0].endswith("test_browser.py"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            reason = reason.removeprefix("Skipped: ")
            terminalreporter.write_line(f"NOTE: the browser test was SKIPPED ({reason}). To run it: {BROWSER_HOW}.",
                                        yellow=True, bold=True)
            return
