"""The official `openai` Python SDK against `tollgate demo --instant`.

Models, chat (streaming and not), usage shown or hidden, reasoning, tool calls, FIM, chat prefix
completion, every gateway error raised as the SDK's matching exception class, and the ledger the
demo's gateway writes, read back by `tollgate report`.
"""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timezone

import httpx
import openai
import pytest

from conftest import tollgate_bin

FLASH = "deepseek-v4-flash"
PRO = "deepseek-v4-pro"
HELLO = [{"role": "user", "content": "Say hello in one short sentence."}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def extra(obj, name: str):
    """A field the SDK's models do not declare (DeepSeek's `reasoning_content`)."""
    return (obj.model_extra or {}).get(name)


def error_body(error: openai.APIStatusError) -> dict:
    body = error.response.json()
    assert set(body) == {"error"}, f"not an OpenAI error envelope: {body}"
    assert isinstance(body["error"].get("message"), str) and body["error"]["message"]
    return body["error"]


# MARK: models


def test_models_list_has_both_models(client: openai.OpenAI):
    ids = [model.id for model in client.models.list()]
    assert FLASH in ids and PRO in ids, ids
    assert len(ids) == len(set(ids)), f"duplicate model ids: {ids}"


# MARK: chat, non-streaming


@pytest.mark.parametrize("model,target", [(FLASH, "flash-pool"), (PRO, "pro-pool")])
def test_chat_non_streaming(client: openai.OpenAI, model: str, target: str):
    raw = client.chat.completions.with_raw_response.create(model=model, messages=HELLO, max_tokens=64)
    assert raw.status_code == 200
    assert raw.headers["x-tollgate-target"] == target
    assert raw.headers["x-request-id"]
    completion = raw.parse()
    assert completion.object == "chat.completion"
    assert isinstance(completion.model, str) and completion.model
    message = completion.choices[0].message
    assert message.role == "assistant"
    assert isinstance(message.content, str) and message.content.strip()
    usage = completion.usage
    assert usage is not None
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_request_id_is_echoed(client: openai.OpenAI):
    raw = client.chat.completions.with_raw_response.create(
        model=FLASH, messages=HELLO, max_tokens=8, extra_headers={"x-request-id": "pytest-req-42"}
    )
    assert raw.headers["x-request-id"] == "pytest-req-42"


def test_request_ids_are_generated_and_distinct(client: openai.OpenAI):
    ids = {
        client.chat.completions.with_raw_response.create(model=FLASH, messages=HELLO, max_tokens=4).headers[
            "x-request-id"
        ]
        for _ in range(3)
    }
    assert len(ids) == 3, ids


# MARK: streaming


def test_stream_with_include_usage_ends_with_usage_chunk(client: openai.OpenAI):
    chunks = list(
        client.chat.completions.create(
            model=FLASH, messages=HELLO, max_tokens=64, stream=True, stream_options={"include_usage": True}
        )
    )
    assert len(chunks) >= 2
    last = chunks[-1]
    assert last.choices == [], "the usage chunk has no choices"
    assert last.usage is not None
    assert last.usage.prompt_tokens > 0 and last.usage.completion_tokens > 0
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert all(chunk.usage is None for chunk in chunks[:-1]), "only the last chunk carries usage"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.strip()
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes in (["stop"], ["length"]), finishes


def test_stream_without_include_usage_has_no_usage(client: openai.OpenAI):
    # Tollgate always asks the engine for usage; the chunk must not reach a client that did not.
    chunks = list(client.chat.completions.create(model=FLASH, messages=HELLO, max_tokens=64, stream=True))
    assert chunks
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks), "a chunk with empty choices leaked through"
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content.strip()


def test_stream_raw_sse_ends_with_done(demo):
    with demo.http() as http:
        with http.stream(
            "POST",
            "/chat/completions",
            headers=demo.auth,
            json={"model": PRO, "messages": HELLO, "max_tokens": 16, "stream": True},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-tollgate-target"] == "pro-pool"
            data = [line[len("data: ") :] for line in response.iter_lines() if line.startswith("data: ")]
    assert data[-1] == "[DONE]"
    for payload in data[:-1]:
        assert json.loads(payload)["object"] == "chat.completion.chunk"


# MARK: reasoning


def test_reasoning_content_with_thinking_on_by_default(client: openai.OpenAI):
    completion = client.chat.completions.create(model=FLASH, messages=HELLO, max_tokens=128)
    reasoning = extra(completion.choices[0].message, "reasoning_content")
    assert isinstance(reasoning, str) and reasoning.strip()
    assert extra(completion.choices[0].message, "reasoning") is None, "vLLM's field name must not leak"


def test_reasoning_content_streams_with_thinking_on(client: openai.OpenAI):
    chunks = list(client.chat.completions.create(model=FLASH, messages=HELLO, max_tokens=128, stream=True))
    reasoning = "".join(extra(c.choices[0].delta, "reasoning_content") or "" for c in chunks if c.choices)
    assert reasoning.strip()
    assert all(extra(c.choices[0].delta, "reasoning") is None for c in chunks if c.choices)


@pytest.mark.parametrize("stream", [False, True])
def test_no_reasoning_with_thinking_disabled(client: openai.OpenAI, stream: bool):
    disabled = {"thinking": {"type": "disabled"}}
    if stream:
        chunks = list(
            client.chat.completions.create(model=FLASH, messages=HELLO, max_tokens=64, stream=True, extra_body=disabled)
        )
        deltas = [c.choices[0].delta for c in chunks if c.choices]
        assert not any(extra(d, "reasoning_content") for d in deltas)
        assert "".join(d.content or "" for d in deltas).strip()
    else:
        completion = client.chat.completions.create(model=FLASH, messages=HELLO, max_tokens=64, extra_body=disabled)
        message = completion.choices[0].message
        assert not extra(message, "reasoning_content")
        assert message.content and message.content.strip()


# MARK: tool calls


def test_tool_call_required_non_streaming(client: openai.OpenAI):
    completion = client.chat.completions.create(
        model=FLASH,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=256,
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert calls and len(calls) >= 1
    assert calls[0].type == "function"
    assert calls[0].id
    assert calls[0].function.name == "get_weather"
    assert isinstance(json.loads(calls[0].function.arguments), dict)


def test_tool_call_required_streaming(client: openai.OpenAI):
    calls: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(
        model=PRO,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=256,
        stream=True,
    ):
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or delta.id
            if delta.function:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
    assert finish == "tool_calls"
    assert calls, "no tool-call deltas came through"
    first = calls[min(calls)]
    assert first["id"]
    assert first["name"] == "get_weather"
    assert isinstance(json.loads(first["arguments"]), dict)


def test_named_tool_choice(client: openai.OpenAI):
    completion = client.chat.completions.create(
        model=FLASH,
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        max_tokens=256,
    )
    call = completion.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments), dict)


# MARK: completions, FIM and chat prefix completion


def test_legacy_completion_with_suffix_fim(client: openai.OpenAI):
    raw = client.completions.with_raw_response.create(
        model=FLASH, prompt="def fib(n):\n    ", suffix="\n    return a\n", max_tokens=32
    )
    assert raw.headers["x-tollgate-target"] in {"flash-pool", "deepseek-api"}
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert isinstance(completion.choices[0].text, str) and completion.choices[0].text
    assert completion.usage and completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0


def test_legacy_completion_streaming(client: openai.OpenAI):
    chunks = list(
        client.completions.create(
            model=PRO, prompt="Once upon a time", max_tokens=16, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_chat_prefix_completion(client: openai.OpenAI):
    messages = [
        {"role": "user", "content": "Write a Python hello world."},
        {"role": "assistant", "content": "```python\n", "prefix": True},
    ]
    raw = client.chat.completions.with_raw_response.create(
        model=FLASH, messages=messages, stop=["```"], max_tokens=64, extra_body={"thinking": {"type": "disabled"}}
    )
    assert raw.status_code == 200
    assert raw.headers["x-tollgate-target"] in {"flash-pool", "deepseek-api"}
    completion = raw.parse()
    assert completion.choices[0].message.role == "assistant"
    assert isinstance(completion.choices[0].message.content, str)


# MARK: errors


def test_bad_key_is_authentication_error(demo):
    with pytest.raises(openai.AuthenticationError) as caught:
        demo.client(key="tg-demo-not-a-real-key").chat.completions.create(model=FLASH, messages=HELLO)
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert error_body(caught.value)["code"] == "invalid_api_key"
    assert caught.value.response.headers["x-request-id"]
    assert "x-tollgate-target" in caught.value.response.headers


def test_bad_key_on_models_is_authentication_error(demo):
    with pytest.raises(openai.AuthenticationError):
        demo.client(key="wrong").models.list()


def test_missing_key_is_401(demo):
    with demo.http() as http:
        response = http.post("/chat/completions", json={"model": FLASH, "messages": HELLO})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_unknown_model_is_not_found(client: openai.OpenAI):
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="deepseek-v9-imaginary", messages=HELLO)
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    assert "deepseek-v9-imaginary" in caught.value.message
    assert caught.value.response.headers["x-request-id"]


def test_a_prompt_too_long_for_the_pro_pool_goes_to_the_api(client: openai.OpenAI):
    # About 150k tokens by any tokenizer: over the Pro pool's max_model_len of 131072, within the
    # API's 1M. The gateway counts it exactly and skips the pool (README, "Context fit").
    long_prompt = "lorem ipsum dolor sit amet " * 24_000
    raw = client.chat.completions.with_raw_response.create(
        model=PRO, messages=[{"role": "user", "content": long_prompt}], max_tokens=16
    )
    assert raw.headers["x-tollgate-target"] == "deepseek-api"
    completion = raw.parse()
    assert completion.usage.prompt_tokens > 131_072


def test_a_prompt_too_long_for_every_target_is_refused_by_the_gateway(client: openai.OpenAI):
    # About 1.2M tokens: no target holds it, so no engine is asked.
    long_prompt = "lorem ipsum dolor sit amet " * 200_000
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=PRO, messages=[{"role": "user", "content": long_prompt}], max_tokens=16
        )
    assert caught.value.status_code == 400
    assert caught.value.code == "context_length_exceeded"
    assert "maximum context length is 1048576 tokens" in caught.value.message, caught.value.message
    assert error_body(caught.value)
    assert caught.value.response.headers["x-tollgate-target"] == "none"


def test_max_tokens_over_every_context_is_bad_request(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=PRO, messages=HELLO, max_tokens=2_000_000)
    assert caught.value.status_code == 400
    assert caught.value.code == "context_length_exceeded"
    assert "2000000 in the completion" in caught.value.message, caught.value.message
    assert error_body(caught.value)


@pytest.mark.parametrize(
    "body,param",
    [
        ({"model": FLASH, "messages": HELLO, "max_tokens": "ten"}, "max_tokens"),
        ({"model": FLASH, "messages": HELLO, "stream": "yes"}, "stream"),
        ({"model": FLASH, "messages": "hello"}, "messages"),
        ({"model": 42, "messages": HELLO}, "model"),
        ({"model": FLASH, "messages": HELLO, "stream_options": {"include_usage": "yes"}}, "stream_options"),
    ],
)
def test_wrong_field_types_are_bad_request(demo, body: dict, param: str):
    with demo.http() as http:
        response = http.post("/chat/completions", headers=demo.auth, json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert error.get("param") == param
    assert response.headers["x-request-id"]


def test_wrong_field_type_via_sdk_is_bad_request_error(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=FLASH, messages=HELLO, extra_body={"max_tokens": "ten"})
    assert caught.value.code == "invalid_request"


def test_missing_messages_is_bad_request(client: openai.OpenAI):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=FLASH, messages=openai.omit)
    assert caught.value.code == "invalid_request"


@pytest.mark.parametrize("payload", [b'{"model": "deepseek-v4-flash", "messages": [', b"not json", b'{"model":}'])
def test_malformed_json_is_invalid_json(demo, payload: bytes):
    with demo.http() as http:
        response = http.post(
            "/chat/completions", headers={**demo.auth, "content-type": "application/json"}, content=payload
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_json"


def test_oversized_body_is_413(demo):
    # The default limit is 64 MiB (it admits a 1M-token prompt); send a little more than that.
    filler = "x" * (65 << 20)
    body = json.dumps({"model": FLASH, "messages": [{"role": "user", "content": filler}]}).encode()
    with demo.http() as http:
        try:
            response = http.post(
                "/chat/completions", headers={**demo.auth, "content-type": "application/json"}, content=body
            )
        except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError) as error:
            pytest.fail(f"the gateway dropped the connection instead of answering 413: {error!r}")
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["message"]
    assert response.headers["x-request-id"]


def test_oversized_body_via_sdk_is_api_status_error_413(client: openai.OpenAI):
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "x" * (65 << 20)}])
    assert caught.value.status_code == 413


# MARK: health


def test_healthz_and_readyz(demo):
    with httpx.Client(base_url=demo.origin, timeout=10) as http:
        health = http.get("/healthz")
        ready = http.get("/readyz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_demo_printed_its_engines(demo):
    assert {"flash-1", "flash-2", "pro-1", "deepseek-api"} <= set(demo.engines), demo.engines
    for url in demo.engines.values():
        assert url.startswith("http://127.0.0.1:"), url


def test_count_accuracy_report_sets_our_prompt_counts_beside_the_engines(demo, client: openai.OpenAI):
    """`tollgate report --count-accuracy` reads the ledger the demo's gateway writes: Tollgate's
    count of each prompt beside the prompt tokens the engine reported."""
    request = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "Count me, please."}]}
    client.chat.completions.create(**request, max_tokens=5)
    ours = int(
        subprocess.run(
            [str(tollgate_bin()), "tokens", "count", "--chat"], input=json.dumps(request).encode(),
            capture_output=True, check=True, timeout=60,
        ).stdout
    )
    database = next(line.split()[1] for line in demo.output if line.startswith("database "))
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    deadline = time.monotonic() + 30
    while True:  # the usage writer commits in batches
        report = subprocess.run(
            [str(tollgate_bin()), "report", "--from", today, "--to", today, "--count-accuracy", "--format", "json",
             "--database-url", database],
            capture_output=True, text=True, timeout=60,
        )
        assert report.returncode == 0, report.stderr
        rows = [row for row in json.loads(report.stdout)["rows"] if row["model"] == "deepseek-v4-flash"]
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert rows, report.stdout
    for row in rows:
        assert row["counted"] in ("exactly", "estimated"), row  # this build records which
        assert row["requests"] >= 1 and 0 <= row["exact"] <= row["requests"]
        assert row["engine_tokens"] > 0 and row["max_abs_error"] >= 0
        assert isinstance(row["exact_percent"], str) and isinstance(row["mean_abs_error"], str)
    assert sum(row["tollgate_tokens"] for row in rows) >= ours > 0
    assert any(row["counted"] == "exactly" for row in rows), rows  # a plain chat is counted exactly

    # Recomputing the day's rollup from the ledger rows, while the demo's writer runs, loses nothing.
    rebuilt = subprocess.run(
        [str(tollgate_bin()), "report", "--from", today, "--to", today, "--count-accuracy", "--rebuild",
         "--format", "json", "--database-url", database],
        capture_output=True, text=True, timeout=60,
    )
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt the count-accuracy rollup" in rebuilt.stderr
    again = {(row["model"], row["target"], row["counted"]): row for row in json.loads(rebuilt.stdout)["rows"]}
    for row in rows:
        assert again[(row["model"], row["target"], row["counted"])]["requests"] >= row["requests"]
    misuse = subprocess.run([str(tollgate_bin()), "report", "--from", today, "--to", today, "--rebuild"],
                            capture_output=True, text=True, timeout=60)
    assert misuse.returncode != 0 and "--rebuild goes with --count-accuracy" in misuse.stderr
