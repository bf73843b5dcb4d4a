#!/usr/bin/env python3
"""Render chat requests with vLLM's own DeepSeek V4 encoder, for the Swift chat-layout tests.

The encoder is `vllm/tokenizers/deepseek_v4_encoding.py` from the vllm 0.33.0 wheel (extracted by
prepare.sh; it imports only the standard library). The request glue below follows that release's
`vllm/tokenizers/deepseek_v4.py` (`apply_chat_template`): thinking from the template kwargs,
reasoning effort, tools on the first system message. Two mappings happen earlier in vLLM's
server and are assumptions shared with the Swift renderer (docs/TOKENIZER.md says so):
`thinking: {"type": "disabled"}` means chat mode, and an assistant's `reasoning_content` is its
`reasoning`. Content given as text parts is joined with newlines before the encoder sees it.

Writes {"vllm": "0.33.0", "cases": [{"name", "request" or "body", "prompt", "tokens"}]}, where
`tokens` is the Hugging Face `tokenizers` count of the prompt (no special tokens added) and
`body`, when a case gives one, is the request's exact text.

Usage: chat_reference.py --encoder PATH --tokenizer PATH --fixtures PATH --out PATH
"""
import argparse
import copy
import importlib.util
import json

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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder", required=True)
    parser.add_argument("--tokenizer", required=True)
    parser.add_argument("--fixtures", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
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
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"vllm": "0.33.0", "cases": cases}, f, ensure_ascii=False)
    print(f"chat_reference.py: {len(cases)} chat layouts rendered by vLLM 0.33.0's encoder -> {args.out}")


if __name__ == "__main__":
    main()
