"""The control panel in a real browser: JupyterLab on localhost, headless Chromium driven by Playwright.

Moves the node slider from 1 to 4 and checks that the rendered plan changes (nodes, DP, price) and
that the GPU map is drawn; saves a screenshot in the test's folder. Recipe and selectors:
../shared/reference/browser-test.md (kernel-ready race, pop-up settings, no outside network).

Needs Debian's chromium (`.ci/run` installs it). Without it the test skips, unless
GYM_REQUIRE_BROWSER=1 (set by `.ci/run`), when it fails.
"""

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", "/usr/bin/chromium", shutil.which("chromium") or "")
                 if p and Path(p).exists()), None)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

if CHROMIUM is None:
    if os.environ.get("GYM_REQUIRE_BROWSER") == "1":
        raise RuntimeError("chromium is required (GYM_REQUIRE_BROWSER=1) but not installed")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a notebook with the control panel, isolated in tmp_path."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("from gym import SlimeConfig\nfrom gym.widgets import ControlPanel\n"
                                          "panel = ControlPanel(SlimeConfig())\npanel")]
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nbformat.write(nb, tmp_path / "panel.ipynb")
    home = tmp_path / "home"
    settings = home / "jcfg" / "labconfig"
    settings.mkdir(parents=True)
    (settings / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    env = {**os.environ, "HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / "jcfg"),
           "JUPYTER_DATA_DIR": str(home / "jdata"), "JUPYTER_RUNTIME_DIR": str(home / "jrun"),
           "IPYTHONDIR": str(home / "ipy"), "JUPYTERLAB_SETTINGS_DIR": str(home / "lab-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "lab-workspaces"), "HF_HUB_OFFLINE": "1"}
    port, token = free_port(), secrets.token_hex(16)
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.token={token}", f"--ServerApp.root_dir={tmp_path}", "--LabApp.news_url=None",
         "--LabApp.extension_manager=readonly", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            pass
        if server.poll() is not None or time.time() > deadline:  # fail here, with what it waited for
            exited = server.poll()
            if exited is None:
                os.killpg(server.pid, signal.SIGKILL)
            pytest.fail(f"JupyterLab did not accept connections on 127.0.0.1:{port} within 60 s"
                        + (f" (it exited with status {exited})" if exited is not None else ""))
        time.sleep(0.2)
    yield f"http://127.0.0.1:{port}", token
    try:
        import urllib.request

        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/api/shutdown?token={token}",
                                                      method="POST"), timeout=5)
        server.wait(timeout=10)
    except Exception:
        os.killpg(server.pid, signal.SIGKILL)


def test_node_slider_changes_the_rendered_plan(lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, token = lab
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(str(tmp_path / "chrome-profile"), executable_path=CHROMIUM,
                                                   headless=True, args=CHROMIUM_ARGS,
                                                   viewport={"width": 1400, "height": 1000})
        ctx.route(re.compile(r"^(?!https?://127\.0\.0\.1)"), lambda route: route.abort())
        page = ctx.new_page()
        page.goto(f"{url}/lab/tree/panel.ipynb?token={token}")
        expect(page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")).to_be_visible(timeout=60_000)
        # Kernel-ready race: the toolbar says idle before the kernel is; wait for the status bar.
        expect(page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$"))).to_be_visible(timeout=60_000)
        page.locator(".lm-MenuBar-item", has=page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Run$"))).click()
        page.locator('.lm-Menu-item[data-command="runmenu:run-all"]').click()

        plan = page.locator("table.gym-plan")
        expect(plan).to_contain_text("1 × 8 H100 = 8 GPUs", timeout=60_000)
        expect(plan).to_contain_text("8 = 8 / 1")
        expect(page.locator(".gym-cost")).to_contain_text("$35.15 per hour")
        handle = page.locator(".gym-nodes .noUi-handle")
        handle.focus()
        for _ in range(3):
            handle.press("ArrowRight")
        expect(page.locator(".gym-nodes .widget-readout")).to_have_text("4")
        expect(plan).to_contain_text("4 × 8 H100 = 32 GPUs")
        expect(plan).to_contain_text("32 = 32 / 1")       # DP
        expect(page.locator(".gym-cost")).to_contain_text("$140.59 per hour")
        gpu_map = page.locator(".gym-map svg")
        expect(gpu_map).to_be_visible()
        assert gpu_map.locator("rect").count() >= 64  # 32 GPUs, each trains and rolls out in turns
        gpu_map.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "panel.png"), full_page=True)
        page.close()
        ctx.close()
    assert (tmp_path / "panel.png").stat().st_size > 10_000
