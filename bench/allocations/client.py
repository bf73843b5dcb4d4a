"""Sends N identical short chat requests, one after another on one keep-alive connection (the
proxy benchmark's "Say hello."), and fails on any answer but 200."""
import http.client
import json
import sys

port, key, count, stream = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
body = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}
if stream:
    body.update(stream=True, stream_options={"include_usage": True})
payload = json.dumps(body)
headers = {"Authorization": "Bearer " + key, "Content-Type": "application/json"}
connection = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(count):
    connection.request("POST", "/v1/chat/completions", payload, headers)
    answer = connection.getresponse()
    answer.read()
    if answer.status != 200:
        sys.exit(f"answer {answer.status}")
