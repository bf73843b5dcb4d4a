#!/usr/bin/env python3
"""Time Hugging Face `tokenizers` on one file, single thread, `encode` (not batch).

Prints JSON: bytes, tokens, median encode seconds, MB/s, load ms, and the median time to encode
a prefix of about 1M tokens. Usage: hf_bench.py TOKENIZER_JSON FILE [REPEAT]
"""
import json
import os
import statistics
import sys
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer  # noqa: E402


def main():
    path, file = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(path)
    load = time.perf_counter() - t0
    with open(file, encoding="utf-8", newline="") as f:
        text = f.read()
    data_len = len(text.encode())
    times, n = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        n = len(tok.encode(text).ids)
        times.append(time.perf_counter() - t)
    prefix = text[: int(len(text) * 1_000_000 / max(n, 1))]
    mtimes, mn = [], 0
    for _ in range(repeat):
        t = time.perf_counter()
        mn = len(tok.encode(prefix).ids)
        mtimes.append(time.perf_counter() - t)
    med = statistics.median(times)
    print(json.dumps({"bytes": data_len, "tokens": n, "median_s": med, "mb_per_s": data_len / med / 1e6,
                      "load_ms": load * 1000, "million_prefix_tokens": mn, "million_median_s": statistics.median(mtimes)}))


if __name__ == "__main__":
    main()
