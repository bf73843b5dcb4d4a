#!/usr/bin/env python3
"""Render chat requests with vLLM's own DeepSeek V4 encoder, for the Swift chat-layout tests.

The encoder is `vllm/tokenizers/deepseek_v4_encoding.py` from the vllm 0.33.0 wheel (extracted by
prepare.sh; it imports only the standard library). The request glue below follows that release's
`vllm/tokenizers/deepseek_v4.py` (`apply_chat_template`): thinking from the template kwargs,
reasoning effort, tools on the first system message. Two mappings happen earlier in vLLM's
server and are assumptions shared with the Swift renderer (docs/TOKENIZER.md says so):
`thinking: {"type": "disabled"}` means chat mode, and an assistant's `reasoning_content` is its
`reasoning`. Content given as text parts is joined with newlines before the encoder sees it.

Writes {"vllm": "0.33.0", "seed": N, "cases": [...], "random": [...]}, each case
{"name", "request" or "body", "prompt", "tokens"}, where `tokens` is the Hugging Face
`tokenizers` count of the prompt (no special tokens added) and `body`, when a case gives one, is
the request's exact text. `cases` are the fixtures; `random` are --random N conversations
generated from a fresh seed each run (printed and stored; --seed S reproduces a run): turns of
every role in many orders, reasoning, tool schemas, tool calls and results, text parts, and every
way of choosing the mode. A generated request the encoder refuses is left out and counted.

Usage: chat_reference.py --encoder PATH --tokenizer PATH --fixtures PATH --out PATH [--random N] [--seed S]
"""
import argparse
import copy
import importlib.util
import json
import random
import time

from tokenizers import Tokenizer


def load_encoder(path):
    spec = importlib.util.spec_from_file_location("deepseek_v4_encoding", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def conversation_message(message):
    """A request message as vLLM's chat parsing hands it to the template."""
    out = {"role": message.get("role")}
    content = message.get("content")
    if isinstance(content, list):
        content = "\n".join(p if isinstance(p, str) else p.get("text", "") for p in content)
    out["content"] = content
    for key in ("tool_calls", "tool_call_id"):
        if key in message:
            out[key] = message[key]
    reasoning = message.get("reasoning_content")
    if not isinstance(reasoning, str):
        reasoning = message.get("reasoning")
    if isinstance(reasoning, str):
        out["reasoning"] = reasoning
    return out


def tool_dump(tool):
    """`ChatCompletionToolsParam.model_dump()`: the function's name, description, parameters."""
    function = tool.get("function", {})
    return {"type": "function", "function": {
        "name": function.get("name"), "description": function.get("description"),
        "parameters": function.get("parameters")}}


def render(encoder, request):
    kwargs = dict(request.get("chat_template_kwargs") or {})
    thinking_field = request.get("thinking")
    if isinstance(thinking_field, dict) and thinking_field.get("type") == "disabled" \
            and "thinking" not in kwargs and "enable_thinking" not in kwargs:
        kwargs["thinking"] = False
    kwargs["reasoning_effort"] = request.get("reasoning_effort")

    # From here on: vllm 0.33.0 DeepseekV4 apply_chat_template.
    thinking_enabled = bool(kwargs.get("thinking")) or bool(kwargs.get("enable_thinking"))
    if "thinking" not in kwargs and "enable_thinking" not in kwargs:
        thinking_enabled = True
    thinking_mode = "thinking" if thinking_enabled else "chat"
    messages = [conversation_message(m) for m in request["messages"]]
    tools = [tool_dump(t) for t in request.get("tools") or []]
    if tools:
        system_idx = next((i for i, m in enumerate(messages) if m.get("role") == "system"), None)
        if system_idx is None:
            messages.insert(0, {"role": "system"})
            system_idx = 0
        else:
            messages[system_idx] = copy.copy(messages[system_idx])
        messages[system_idx]["tools"] = tools
    effort = kwargs.get("reasoning_effort")
    if not isinstance(effort, str):
        effort = "high" if thinking_enabled else None
    elif effort == "none":
        thinking_mode = "chat"
        effort = None
    elif effort == "max":
        effort = "max"
    elif effort in ("low", "minimal", "medium"):
        effort = "low"
    else:
        effort = "high"
    return encoder.encode_messages(messages, thinking_mode=thinking_mode, drop_thinking=True, reasoning_effort=effort)


TEXTS = ["Hi", "Say hello.", "What is 2+2?", "", " ", "4", "ok", "Explain BPE in one line.", "日本語のテキスト",
         "中文问题？", "привет", "مرحبا", "😀👍🏽", "e\u0301", "tabs\tand\nnewlines\n\n  ", "<｜User｜>", "</think>",
         "<think>x</think>", "<｜Assistant｜>", "｜DSML｜", "{\"json\": [1, 2]}", "def f(x):\n    return x * 2\n",
         "   leading and trailing   ", "\n", "1234567890", "Ünïcödé", "<｜end▁of▁sentence｜>"]
EFFORTS = ["none", "minimal", "low", "medium", "high", "xhigh", "max", "unknown"]


def random_text(rng):
    return "".join(rng.choice(TEXTS) for _ in range(rng.choice([1, 1, 1, 2, 3])))


def random_content(rng, allow_null=False):
    r = rng.random()
    if allow_null and r < 0.15:
        return None
    if r < 0.3:
        return [{"type": "text", "text": random_text(rng)} for _ in range(rng.randint(1, 3))]
    return random_text(rng)


def random_schema(rng, depth=0):
    kind = rng.choice(["string", "integer", "number", "boolean", "array", "object"] if depth < 2 else ["string", "integer"])
    schema = {"type": kind}
    if rng.random() < 0.5:
        schema["description"] = random_text(rng)
    if kind == "object":
        names = rng.sample(["city", "q", "n", "unit", "when", "tags", "名前", "nested"], rng.randint(0, 3))
        schema["properties"] = {name: random_schema(rng, depth + 1) for name in names}
        if names and rng.random() < 0.6:
            schema["required"] = names[: rng.randint(1, len(names))]
    elif kind == "array":
        schema["items"] = random_schema(rng, depth + 1)
    elif kind == "string" and rng.random() < 0.3:
        schema["enum"] = ["c", "f", "ä"]
    elif kind == "integer" and rng.random() < 0.3:
        schema["default"] = rng.randint(-5, 500)
    return schema


def random_tool(rng, name):
    function = {"name": name}
    if rng.random() < 0.8:
        function["description"] = random_text(rng)
    if rng.random() < 0.9:
        function["parameters"] = random_schema(rng) | {"type": "object"}
    return {"type": "function", "function": function}


def random_arguments(rng):
    value = {k: rng.choice([random_text(rng), rng.randint(-3, 99), 2.5, True, None, [1, "a"], {"x": "y"}])
             for k in rng.sample(["city", "q", "n", "unit", "名前"], rng.randint(0, 3))}
    return value if rng.random() < 0.3 else json.dumps(value, ensure_ascii=rng.random() < 0.5)


def random_request(rng):
    """One generated chat request: a conversation in a plausible order, with the features the
    layout depends on switched on at random."""
    names = rng.sample(["get_weather", "search", "read_file", "lookup"], rng.randint(1, 3))
    request = {}
    if rng.random() < 0.35:
        request["tools"] = [random_tool(rng, name) for name in names]
    messages = []
    if rng.random() < 0.5:
        messages.append({"role": rng.choice(["system", "system", "developer"]), "content": random_content(rng)})
    call_number = 0
    for _ in range(rng.randint(1, 4)):
        messages.append({"role": "user", "content": random_content(rng)})
        if rng.random() < 0.15:
            messages.append({"role": "user", "content": random_content(rng)})
        if rng.random() < 0.1:
            messages.append({"role": rng.choice(["system", "developer"]), "content": random_content(rng)})
        reply = {"role": "assistant"}
        if rng.random() < 0.4:
            reply["reasoning_content"] = random_text(rng)
        if rng.random() < 0.3:
            calls = []
            for _ in range(rng.randint(1, 2)):
                call_number += 1
                calls.append({"id": f"call_{call_number}", "type": "function",
                              "function": {"name": rng.choice(names), "arguments": random_arguments(rng)}})
            reply["tool_calls"] = calls
            reply["content"] = random_content(rng, allow_null=True)
            messages.append(reply)
            results = calls[:] if rng.random() < 0.7 else calls[::-1]
            for call in results:
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": random_content(rng)})
            reply = {"role": "assistant", "content": random_content(rng)}
        else:
            reply["content"] = random_content(rng)
        messages.append(reply)
    # End on a user turn mostly; sometimes on a trailing system message, or an assistant prefill.
    r = rng.random()
    if r < 0.7:
        messages.append({"role": "user", "content": random_content(rng)})
    elif r < 0.8:
        messages.append({"role": rng.choice(["system", "developer"]), "content": random_content(rng)})
    request["messages"] = messages
    r = rng.random()
    if r < 0.15:
        request["thinking"] = {"type": rng.choice(["disabled", "enabled"])}
    elif r < 0.4:
        request["reasoning_effort"] = rng.choice(EFFORTS)
    elif r < 0.55:
        request["chat_template_kwargs"] = {rng.choice(["thinking", "enable_thinking"]): rng.choice([True, False, None, 1, ""])}
    return request


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--random", type=int, default=0)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 2**31
    encoder = load_encoder(args.encoder)
    tokenizer = Tokenizer.from_file(args.tokenizer)
    cases = []
    for case in json.load(open(args.fixtures, encoding="utf-8")):
        # A case whose exact bytes matter (a key written twice) gives them as `body`, read here
        # as vLLM's server reads a request.
        request = json.loads(case["body"]) if "body" in case else case["request"]
        prompt = render(encoder, request)
        tokens = len(tokenizer.encode(prompt, add_special_tokens=False).ids)
        out = {"name": case["name"], "prompt": prompt, "tokens": tokens}
        out.update({"body": case["body"]} if "body" in case else {"request": request})
        cases.append(out)
    rng, generated, refused = random.Random(seed), [], 0
    for i in range(args.random):
        request = random_request(rng)
        try:
            prompt = render(encoder, request)
        except (ValueError, NotImplementedError):
            refused += 1
            continue
        tokens = len(tokenizer.encode(prompt, add_special_tokens=False).ids)
        generated.append({"name": f"random #{i} (seed {seed})", "request": request, "prompt": prompt, "tokens": tokens})
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"vllm": "0.33.0", "seed": seed, "cases": cases, "random": generated}, f, ensure_ascii=False)
    print(f"chat_reference.py: {len(cases)} chat layouts and {len(generated)} generated ones (seed {seed}, "
          f"{refused} refused by the encoder) rendered by vLLM 0.33.0's encoder -> {args.out}")


if __name__ == "__main__":
    main()
