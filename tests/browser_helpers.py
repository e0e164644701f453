"""What the tests that start JupyterLab and drive it in headless Chromium share.

Chromium is Debian's package (``apt-get install chromium``; .ci/run installs it when it runs as
root), driven by Playwright with ``executable_path``, so nothing downloads a browser build.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NO_CHROMIUM = "Chromium is not installed (apt-get install chromium; .ci/run does this where it may)"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: JupyterLab settings for tests: every cell stays in the page (no windowing), no news pop-up
#: covers the notebook, and nothing the browser does is saved into a notebook.
LAB_SETTINGS = {
    "notebook-extension/tracker": '{"windowingMode": "none"}',
    "apputils-extension/notification": '{"fetchNews": "false"}',
    "docmanager-extension/plugin": '{"autosave": false}',
}


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_lab_settings(folder: Path) -> Path:
    """Write :data:`LAB_SETTINGS` into ``folder`` (a JUPYTERLAB_SETTINGS_DIR); returns it."""
    for name, value in LAB_SETTINGS.items():
        target = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(value)
    return folder


def wait_until_answers(url: str, server: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    """Return once ``url`` answers; fail the test if the server exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}; see {log}")
            time.sleep(0.5)
    stop(server)
    pytest.fail(f"JupyterLab did not answer {url} within {timeout:.0f} s; see {log}")


def stop(server: subprocess.Popen, timeout: float = 20) -> int:
    """Terminate the server (SIGTERM, then SIGKILL after ``timeout`` s); its exit status."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return server.returncode


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, through Playwright."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
