#!/usr/bin/env python3
"""Compute reference token ids with Hugging Face `tokenizers` for the Swift parity tests.

Writes one JSON document:
  {"tokenizers": "0.23.3", "tokenizer_sha256": ..., "seed": N,
   "cases": [{"kind": "fixture"|"random"|"sweep", "name": str, "text": str, "ids": [int]}]}

- fixture: every case of Tests/TollgateTokenizerTests/Fixtures/parity-cases.json
- random:  --random N generated strings (seeded; the seed is printed and stored)
- sweep:   every assigned Unicode 16.0 code point (and a sample of unassigned/private ones) in
           a few contexts, so each code point's class is checked against HF

Usage: reference.py --tokenizer PATH --fixtures PATH --out PATH [--random N] [--seed S]
"""
import argparse
import hashlib
import json
import os
import random
import sys
import time

import tokenizers
import unicodedata2 as ud
from tokenizers import Tokenizer

SPECIAL_SAMPLES = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>",
    "｜DSML｜", "<dsml:", "</dsml:", "<|EOT|>", "<｜fim▁hole｜>", "<｜/table>｜", "<｜tool▁calls▁begin｜>",
    "<｜place▁holder▁no▁7｜>",
]
LOOKALIKES = ["<|User|>", "<｜User", "User｜>", "<｜place▁holder▁no▁99999｜>", "< think>", "<thin", "｜DSML", "<dsml"]
WORDS = ["hello", "World", "naïve", "ÉCOLE", "straße", "tokenizer", "ДОБРО", "привет", "مرحبا", "नमस्ते", "中文字符",
         "ひらがな", "カタカナ", "한국어", "ελληνικά", "עברית", "ภาษาไทย", "Ǆemal", "ﬁnance", "x", "I", "'s", "'ll"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["。", "、", "「", "」", "・", "〜", "¿", "¡", "«", "»", "—", "…",
                                                     "€", "©", "°", "±", "√", "∑", "→", "★", "‼", "‽"]
SPACES = [" ", "  ", "\t", "\n", "\r\n", "\r", "\n\n", " \n", "\u00a0", "\u3000", "\u2028", "\u2029", "\u0085",
          "\u000b", "\u000c", "\u1680", "\u2003", "\u200a", "\u202f", "\u205f", "\u001c", "\u001f", "\u200b",
          "\u180e", "\ufeff", "\u200d", "\u00ad"]
DIGITS = ["0", "7", "42", "123", "2024", "12345", "3.14159", "1,000,000", "٣٤٥", "५६", "５６７", "½", "①②", "Ⅻ",
          "𝟘𝟙", "²³", "〇", "00000001"]


def all_assigned() -> list[int]:
    cps = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        cat = ud.category(chr(cp))
        if cat in ("Cn", "Co"):
            if cp % 61 == 0:
                cps.append(cp)
        else:
            cps.append(cp)
    return cps


def sweep_cases() -> list[tuple[str, str]]:
    cps = all_assigned()
    out = []
    for i in range(0, len(cps), 128):
        chunk = cps[i : i + 128]
        parts = []
        for cp in chunk:
            c = chr(cp)
            parts.append(f"a{c}{c}b {c}\n{c}1")
        out.append((f"U+{chunk[0]:04X}..U+{chunk[-1]:04X}", "".join(parts)))
    return out


def random_char(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.25:
        return chr(rng.randint(0x20, 0x7E))
    if r < 0.35:
        return rng.choice(SPACES)
    if r < 0.45:
        return chr(rng.choice([rng.randint(0x4E00, 0x9FFF), rng.randint(0x3040, 0x30FF), rng.randint(0xAC00, 0xD7A3)]))
    if r < 0.55:
        return chr(rng.randint(0x80, 0x2FFF))
    if r < 0.60:
        return chr(rng.randint(0x0300, 0x036F))  # combining marks
    if r < 0.65:
        return chr(rng.choice([rng.randint(0x1F300, 0x1FAFF), 0x200D, 0xFE0F, rng.randint(0x1F3FB, 0x1F3FF)]))
    # any scalar from any plane (assigned or not), no surrogates
    while True:
        cp = rng.randint(0, 0x10FFFF)
        if not (0xD800 <= cp <= 0xDFFF):
            return chr(cp)


def random_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 24)):
        r = rng.random()
        if r < 0.2:
            parts.append(rng.choice(WORDS))
        elif r < 0.3:
            parts.append(rng.choice(PUNCT) * rng.randint(1, 3))
        elif r < 0.45:
            parts.append(rng.choice(SPACES) * rng.randint(1, 4))
        elif r < 0.55:
            parts.append(rng.choice(DIGITS) if rng.random() < 0.5 else str(rng.randint(0, 10 ** rng.randint(1, 15))))
        elif r < 0.6:
            parts.append(rng.choice(SPECIAL_SAMPLES))
        elif r < 0.63:
            parts.append(rng.choice(LOOKALIKES))
        else:
            parts.append("".join(random_char(rng) for _ in range(rng.randint(1, 12))))
    return "".join(parts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--random", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()

    seed = args.seed if args.seed is not None else int(time.time() * 1000) % 2**31
    rng = random.Random(seed)
    with open(args.tokenizer, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    tok = Tokenizer.from_file(args.tokenizer)
    with open(args.fixtures, encoding="utf-8") as f:
        fixtures = json.load(f)

    cases = [("fixture", c["name"], c["text"]) for c in fixtures["cases"]]
    # Long generated texts exercise the heap BPE path and long whitespace runs.
    cases += [("fixture", "long spaces 5000", " " * 5000 + "x"), ("fixture", "long newlines", "\n" * 3000),
              ("fixture", "long word", "ab" * 2000), ("fixture", "long digits", "9" * 1000),
              ("fixture", "zalgo", "Z" + "\u0301\u0316\u0353" * 300), ("fixture", "long CJK", "漢字かなカナ" * 400)]
    cases += [("random", f"random #{i} (seed {seed})", random_text(rng)) for i in range(args.random)]
    cases += [("sweep", name, text) for name, text in sweep_cases()]

    out_cases = []
    for kind, name, text in cases:
        ids = tok.encode(text).ids
        out_cases.append({"kind": kind, "name": name, "text": text, "ids": ids})
    doc = {"tokenizers": tokenizers.__version__, "unicodedata": ud.unidata_version, "tokenizer_sha256": sha,
           "seed": seed, "cases": out_cases}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    counts = {k: sum(1 for c in out_cases if c["kind"] == k) for k in ("fixture", "random", "sweep")}
    print(f"reference: tokenizers {tokenizers.__version__}, seed {seed}, cases {counts}, wrote {args.out}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
