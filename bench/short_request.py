"""The proxy benchmark's short chat turn (bench/proxy.lua's body), for the Python benchmarks."""
import json

BODY = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}
STREAM_BODY = dict(BODY, stream=True, stream_options={"include_usage": True})


def post(conn, key, stream):
    """Sends the request on `conn` (an http.client connection) and reads the answer; fails unless
    it is a 200. Returns the response, for its headers."""
    conn.request("POST", "/v1/chat/completions", json.dumps(STREAM_BODY if stream else BODY),
                 {"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    response = conn.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"answer {response.status}")
    return response
