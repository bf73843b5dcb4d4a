"""Tollgate in front of a real engine: `tollgate demo --real`, whose Flash pool is the llama.cpp
server (llama-cpp-python) serving SmolLM2-135M under the name `smollm2`.

Slow on first use (scripts/real-engine.sh builds llama.cpp), so it runs only with
TOLLGATE_REAL_ENGINE=1. CI sets it; in CI without it these tests fail instead of skipping.
"""

from __future__ import annotations

import json
import os

import openai
import pytest

from conftest import Demo, start_demo, stop_demo

FLASH = "deepseek-v4-flash"
PROMPT = [{"role": "user", "content": "Name three colours."}]
# Generous: the first run installs llama-cpp-python and builds llama.cpp from source.
INSTALL_TIMEOUT_S = float(os.environ.get("TOLLGATE_REAL_ENGINE_TIMEOUT", 20 * 60))


@pytest.fixture(scope="module")
def real_demo(tmp_path_factory: pytest.TempPathFactory):
    if os.environ.get("TOLLGATE_REAL_ENGINE") != "1":
        reason = "set TOLLGATE_REAL_ENGINE=1 to run the real-engine tests (installs llama-cpp-python on first use)"
        if os.environ.get("CI") == "true":
            pytest.fail("CI must run the real-engine tests: " + reason)
        pytest.skip(reason)
    from conftest import free_port

    running = start_demo(
        tmp_path_factory.mktemp("real-demo"),
        "--instant",
        "--real",
        "--real-port",
        str(free_port()),
        ready_timeout=INSTALL_TIMEOUT_S,
    )
    yield running
    status = stop_demo(running.process)
    assert status == 0, f"tollgate demo --real exited with {status} on SIGTERM"


def test_real_engine_is_listed(real_demo: Demo):
    assert "flash-real" in real_demo.engines, real_demo.engines
    assert "flash-1" not in real_demo.engines, "with --real the Flash pool is the real engine only"


def test_real_engine_non_streaming(real_demo: Demo):
    raw = real_demo.client().chat.completions.with_raw_response.create(model=FLASH, messages=PROMPT, max_tokens=32)
    assert raw.status_code == 200
    assert raw.headers["x-tollgate-target"] == "flash-pool"
    assert raw.headers["x-request-id"]
    completion = raw.parse()
    content = completion.choices[0].message.content
    assert isinstance(content, str) and content.strip()
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    # This engine sends no `reasoning` key, so the gateway reads only the usage, from the end of
    # the answer, and adds the cost there.
    usage = json.loads(raw.http_response.content)["usage"]
    assert usage["prompt_tokens"] == completion.usage.prompt_tokens
    assert float(usage["cost"]) > 0 and "estimated" not in usage


def test_real_engine_streaming_sdk(real_demo: Demo):
    chunks = list(
        real_demo.client().chat.completions.create(model=FLASH, messages=PROMPT, max_tokens=32, stream=True)
    )
    assert chunks
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.strip()
    assert any(c.choices and c.choices[0].finish_reason for c in chunks), "no finish_reason in the stream"


def test_real_engine_streaming_raw_sse_ends_with_done(real_demo: Demo):
    # llama.cpp sends no usage chunk even when asked: Tollgate counts the tokens itself and sends
    # the usage chunk the client asked for, marked estimated, before [DONE].
    with real_demo.http() as http:
        with http.stream(
            "POST",
            "/chat/completions",
            headers=real_demo.auth,
            json={
                "model": FLASH,
                "messages": PROMPT,
                "max_tokens": 32,
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-tollgate-target"] == "flash-pool"
            data = [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]
    assert data and data[-1] == "[DONE]"
    assert data.count("[DONE]") == 1
    chunks = [json.loads(payload) for payload in data[:-1]]
    assert chunks and all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    assert "".join((c["choices"][0]["delta"].get("content") or "") for c in chunks if c["choices"]).strip()
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == []
    assert usage["estimated"] is True
    assert usage["prompt_tokens"] > 0 and 0 < usage["completion_tokens"] <= 40
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert float(usage["cost"]) > 0


def test_real_engine_unknown_model_still_404(real_demo: Demo):
    with pytest.raises(openai.NotFoundError):
        real_demo.client().chat.completions.create(model="smollm2", messages=PROMPT)
