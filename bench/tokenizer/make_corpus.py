#!/usr/bin/env python3
"""Assemble a ~10 MB mixed multilingual benchmark file from text already on the machine.

Sources (sorted, deterministic for a given machine): translated messages of every gettext .mo
catalogue under /usr/share/locale and /usr/share/vim (real sentences in dozens of languages:
Chinese, Japanese, Korean, Russian, Arabic, Hindi, ...), English licence texts under
/usr/share/common-licenses, Python standard-library source (code), this repository's Swift
sources, and generated JSON. Chunks of ~4 KB are interleaved round-robin so every region of the
file is mixed. Usage: make_corpus.py OUT [SIZE_MB] [zh]

With `zh`, the file is Simplified Chinese only: the zh_CN catalogues' messages, in catalogue
order, repeated until the size is reached (Chinese text is one pre-tokenizer piece per run of
characters, so it exercises the merges far more than the mixed file; docs/BENCHMARKS.md).
"""
import gettext
import glob
import json
import os
import random
import sys
import sysconfig


def mo_texts(only_chinese=False):
    if only_chinese:
        paths = sorted(glob.glob("/usr/share/locale/zh_CN/LC_MESSAGES/*.mo"))
    else:
        paths = sorted(glob.glob("/usr/share/locale/*/LC_MESSAGES/*.mo") + glob.glob("/usr/share/vim/*/lang/*/LC_MESSAGES/*.mo"))
        random.Random(1).shuffle(paths)  # mix languages instead of taking them alphabetically
    for p in paths:
        try:
            with open(p, "rb") as f:
                t = gettext.GNUTranslations(f)
        except Exception:
            continue
        cat = getattr(t, "_catalog", {})
        msgs = [v for k, v in cat.items() if k and isinstance(v, str)]
        if msgs:
            yield "\n".join(msgs)


def files(pattern_list, limit_bytes):
    total = 0
    for pattern in pattern_list:
        for p in sorted(glob.glob(pattern, recursive=True)):
            try:
                with open(p, encoding="utf-8") as f:
                    s = f.read()
            except Exception:
                continue
            total += len(s.encode())
            yield s
            if total > limit_bytes:
                return


def json_texts(n):
    rng = random.Random(7)
    for i in range(n):
        doc = {"id": i, "model": "deepseek-v4", "messages": [{"role": "user", "content": f"Question {i}: 价格是多少？"}],
               "usage": {"prompt_tokens": rng.randint(1, 100000), "completion_tokens": rng.randint(1, 4000)},
               "values": [rng.random() for _ in range(5)], "ok": rng.random() < 0.5, "name": "テスト" * rng.randint(0, 3)}
        yield json.dumps(doc, ensure_ascii=False, indent=rng.choice([None, 2]))


def chunks(texts, size=4096):
    for t in texts:
        for i in range(0, len(t), size):
            yield t[i : i + size]


def chinese(out, target):
    text = "\n".join(mo_texts(only_chinese=True))
    if len(text.encode()) < 100_000:
        sys.exit("make_corpus.py: too few zh_CN messages under /usr/share/locale for a Chinese corpus")
    data = (text * (target // len(text.encode()) + 1)).encode()[:target].decode("utf-8", errors="ignore").encode()
    with open(out, "wb") as f:
        f.write(data)
    print(f"corpus (Chinese): {len(data)} bytes -> {out}", file=sys.stderr)


def main():
    out = sys.argv[1]
    target = int(float(sys.argv[2]) if len(sys.argv) > 2 else 10) * 1_000_000
    if len(sys.argv) > 3 and sys.argv[3] == "zh":
        return chinese(out, target)
    stdlib = sysconfig.get_paths()["stdlib"]
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.abspath(os.path.join(here, "..", ".."))
    streams = [
        chunks(mo_texts()),
        chunks(files(["/usr/share/common-licenses/*"], 2_000_000)),
        chunks(files([stdlib + "/*.py", stdlib + "/*/*.py"], 6_000_000)),
        chunks(files([repo + "/Sources/**/*.swift"], 1_000_000)),
        chunks(json_texts(20000)),
    ]
    weights = [4, 1, 2, 1, 1]  # multilingual text dominates
    parts, size = [], 0
    live = list(zip(streams, weights))
    while size < target and live:
        for entry in list(live):
            s, w = entry
            for _ in range(w):
                c = next(s, None)
                if c is None:
                    live.remove(entry)
                    break
                parts.append(c)
                size += len(c.encode())
    data = "".join(parts).encode()[:target]
    data = data.decode("utf-8", errors="ignore").encode()
    with open(out, "wb") as f:
        f.write(data)
    print(f"corpus: {len(data)} bytes -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
