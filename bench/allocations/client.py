"""Sends COUNT of the proxy benchmark's short chat requests, one after another on one keep-alive
connection. Usage: client.py PORT KEY COUNT STREAM(0|1)"""
import http.client
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from short_request import post  # noqa: E402

port, key, count, stream = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
connection = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(count):
    post(connection, key, stream)
