"""Headless Chromium driven over the DevTools protocol: open a page, click, take a screenshot.

Debian's ``chromium`` package; the flags keep it offline and stateless. Used by the screenshot
test of the leaderboard page; nothing here is specific to Dagster.
"""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from websockets.sync.client import connect

from orb_pipeline_tests.services import free_port

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]


def wait_for_http(url: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(0.25)


class Browser:
    """One headless Chromium with one page; use as a context manager."""

    def __init__(self, width: int = 1600, height: int = 1400):
        self.width, self.height = width, height
        self._ids = itertools.count(1)

    def __enter__(self) -> Browser:
        self.profile = tempfile.mkdtemp(prefix="orb-chromium-")
        port = free_port()
        self.process = subprocess.Popen(
            [
                CHROMIUM,
                *FLAGS,
                "--user-data-dir=" + self.profile,
                f"--window-size={self.width},{self.height}",
                f"--remote-debugging-port={port}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_http(f"http://127.0.0.1:{port}/json/version", timeout=60)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:  # noqa: S310
            pages = [t for t in json.load(response) if t["type"] == "page"]
        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024)
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()
        self.process.kill()
        self.process.wait(timeout=30)
        shutil.rmtree(self.profile, ignore_errors=True)

    def call(self, method: str, **params) -> dict:
        ident = next(self._ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=60))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        return result.get("result", {}).get("value")

    def open(self, url: str) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.call("Page.enable")
        self.call("Page.navigate", url=url)

    def wait_for(self, expression: str, timeout: float = 60.0) -> None:
        """Poll a JavaScript expression until it is truthy."""
        deadline = time.monotonic() + timeout
        while not self.evaluate("!!(" + expression + ")"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"page never satisfied: {expression}")
            time.sleep(0.25)

    def screenshot(self, path: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        path.write_bytes(data)
        return data
