"""Headless Chromium driven through the DevTools protocol over a pipe (no npm or pip package).

`Page` opens a file at a given window size and evaluates JavaScript in it; the report's browser
test and `scripts/screenshot.py` use it. Install the browser with
`apt-get update && apt-get install -y chromium`; tests skip without /usr/bin/chromium.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM = os.environ.get("KERASBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium"


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM) or Path(CHROMIUM).exists())


class DevTools:
    """Chrome DevTools protocol over --remote-debugging-pipe (fds 3 and 4): no package needed."""

    def __init__(self, executable: str, user_data_dir: str):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def fds_3_and_4():
            # The browser reads commands on fd 3 and writes replies on fd 4. Move both out of the
            # way first, in case either pipe end already is fd 3 or 4.
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        args = [
            executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--window-size=1400,900",
            f"--user-data-dir={user_data_dir}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        self.process = subprocess.Popen(
            args,
            preexec_fn=fds_3_and_4,
            pass_fds=(),
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(
        self,
        method: str,
        params: dict | None = None,
        session: str | None = None,
        timeout: float = 30.0,
    ) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("no reply from chromium")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError(
                    "chromium closed the pipe: "
                    + self.process.stderr.read().decode(errors="replace")[-2000:]
                )
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)


def problems(events: list[dict]) -> list[str]:
    """JavaScript errors, console errors and any request that leaves the file."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append(
                "exception: "
                + details.get("exception", {}).get("description", details.get("text", ""))
            )
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(
                "console.error: "
                + " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append("log: " + params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not url.startswith(("file:", "data:", "blob:", "about:")):
                found.append("network request: " + url)
    return found


class Page:
    """One page of a fresh headless Chromium (its own profile), width x height CSS pixels."""

    def __init__(self, path, width: int = 1400, height: int = 900, wait_charts: int | None = None):
        self._profile = tempfile.TemporaryDirectory(prefix="kerasbench-chromium-")
        self.browser = DevTools(CHROMIUM, self._profile.name)
        try:
            target = self.browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            self.session = self.browser.send(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )["sessionId"]
            for domain in ("Runtime", "Log", "Network", "Page"):
                self.browser.send(f"{domain}.enable", session=self.session)
            self.browser.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=self.session,
            )
            self.browser.send(
                "Page.navigate", {"url": Path(path).resolve().as_uri()}, session=self.session
            )
            self.charts = self._wait(wait_charts)
        except BaseException:
            self.close()
            raise

    def _wait(self, charts, timeout=60.0) -> dict:
        state = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.evaluate("""(() => { const divs = [...document.querySelectorAll('.plotly-graph-div')];
                     return {ready: document.readyState, divs: divs.length,
                             drawn: divs.filter(d => d.querySelector('svg.main-svg')).length,
                             plotly: typeof window.Plotly}; })()""")
            if (
                state["ready"] == "complete"
                and state["divs"] == state["drawn"]
                and (charts is None or state["divs"] == charts)
            ):
                break
            time.sleep(0.25)
        time.sleep(0.5)  # let late errors arrive
        return state

    def evaluate(self, expression: str):
        reply = self.browser.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session=self.session,
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"javascript failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def screenshot(self, path, x=0, y=0, width=None, height=None, scale=1.0) -> Path:
        size = self.browser.send("Page.getLayoutMetrics", session=self.session)["cssContentSize"]
        clip = {
            "x": x,
            "y": y,
            "width": width or size["width"],
            "height": height or min(size["height"], 16000),
            "scale": scale,
        }
        shot = self.browser.send(
            "Page.captureScreenshot",
            {"format": "png", "captureBeyondViewport": True, "clip": clip},
            session=self.session,
            timeout=60,
        )
        path = Path(path)
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def problems(self) -> list:
        return problems(self.browser.events)

    def close(self):
        if getattr(self, "browser", None) is not None:
            self.browser.close()
            self.browser = None
        self._profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
