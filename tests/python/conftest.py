"""Fixtures: a `tollgate demo` process on a free loopback port, and clients pointed at it.

The demo is the real binary (``TOLLGATE_BIN``, default ``.build/debug/tollgate``), started once
per session and stopped with SIGTERM at the end, so these tests cover the same path a user runs.
"""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai
import pytest

REPO = Path(__file__).resolve().parents[2]


def tollgate_bin() -> Path:
    path = Path(os.environ.get("TOLLGATE_BIN", REPO / ".build/debug/tollgate"))
    if not path.is_absolute():
        path = REPO / path
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"tollgate binary not found at {path}: build it (swift build --product tollgate) "
            "and set TOLLGATE_BIN to its path"
        )
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Demo:
    """A running `tollgate demo`: its gateway base URL, demo key and engine URLs."""

    process: subprocess.Popen
    base_url: str
    key: str
    engines: dict[str, str]
    output: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return self.base_url.removesuffix("/v1")

    def client(self, key: str | None = None, **options) -> openai.OpenAI:
        options.setdefault("max_retries", 0)
        options.setdefault("timeout", 120)
        return openai.OpenAI(base_url=self.base_url, api_key=key or self.key, **options)

    def http(self, **options) -> httpx.Client:
        options.setdefault("timeout", 120)
        return httpx.Client(base_url=self.base_url, **options)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def start_demo(tmp_dir: Path, *args: str, ready_timeout: float) -> Demo:
    """Starts the demo and waits for its `gateway` line; fails with its output if it dies first."""
    binary = tollgate_bin()
    port = free_port()
    key_file = tmp_dir / "demo-key.txt"
    env = dict(os.environ)
    env.setdefault("TOLLGATE_HOME", str(REPO))
    process = subprocess.Popen(
        [str(binary), "demo", "--port", str(port), "--key-file", str(key_file), *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    output: list[str] = []

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line.rstrip("\n"))
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    engines: dict[str, str] = {}
    deadline = time.monotonic() + ready_timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            stop_demo(process)
            pytest.fail(
                f"tollgate demo printed no 'gateway' line within {ready_timeout:.0f} s; output:\n"
                + "\n".join(output[-60:])
            )
        try:
            line = lines.get(timeout=min(remaining, 5))
        except queue.Empty:
            continue
        if line is None:
            process.wait(timeout=10)
            pytest.fail(
                f"tollgate demo exited with {process.returncode} before it was ready; output:\n"
                + "\n".join(output[-60:])
            )
        words = line.split()
        if len(words) >= 3 and words[0] == "engine":
            engines[words[1]] = words[2]
        elif len(words) >= 2 and words[0] == "gateway":
            base_url = words[1]
            break
    key = key_file.read_text().strip()
    assert key, f"demo key file {key_file} is empty"
    return Demo(process=process, base_url=base_url, key=key, engines=engines, output=output)


def stop_demo(process: subprocess.Popen) -> int:
    """SIGTERM, then SIGKILL if it has not exited within 30 s. Returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
            pytest.fail("tollgate demo did not exit within 30 s of SIGTERM")
    return process.returncode


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """`tollgate demo --instant`: simulated engines answering at once, the gateway in front."""
    running = start_demo(tmp_path_factory.mktemp("demo"), "--instant", ready_timeout=60)
    yield running
    status = stop_demo(running.process)
    assert status == 0, f"tollgate demo exited with {status} on SIGTERM; output:\n" + "\n".join(running.output[-40:])


@pytest.fixture(scope="session")
def client(demo: Demo) -> openai.OpenAI:
    return demo.client()
