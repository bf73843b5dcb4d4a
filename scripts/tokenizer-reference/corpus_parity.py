#!/usr/bin/env python3
"""Whole-id parity of `tollgate tokens encode` with Hugging Face `tokenizers` on real text.

The CI suite checks crafted fixtures, a Unicode sweep and random strings; this checks what neither
covers, long runs of real text, without putting minutes into CI. It gathers the text files this
machine already has (gettext translations in about 190 languages through `msgunfmt`, Python
sources, C headers, X11 Compose tables, Markdown docs, Perl and JavaScript), cuts them into
chunks of about 1 MB, encodes each chunk with both tokenizers and compares the id sequences. A
mismatch prints the chunk, the first differing position and the text around it; the exit code
is the number of mismatches (0: exact everywhere).

With --chat, each chunk is also sent as the one user turn of a chat request to `tollgate tokens
count --chat`, which counts as the gateway does, in three forms: as is, cut down to ASCII
without `<`, and cut down further to printable ASCII with nothing JSON escapes (the text the
gateway's fastest count, `countPlainASCII`, takes). Each count must equal HF's count of the
prompt vLLM 0.33.0's encoder renders (`prepare.sh` extracts the encoder).

    .venv-tokenizer-reference/bin/python scripts/tokenizer-reference/corpus_parity.py \
        --bin .build/release/tollgate [--mb 200] [--chat] [--keep DIR]

(`scripts/tokenizer-reference/prepare.sh --venv-only` creates the venv.)
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import json

from tokenizers import Tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKENIZER = os.path.join(ROOT, "Sources/TollgateTokenizer/Resources/tokenizer.json")
ENCODER = os.path.join(ROOT, ".venv-tokenizer-reference/vllm-0.33.0/deepseek_v4_encoding.py")
# (directory, how a file's name ends) for the plain-text sources.
TEXT_SOURCES = [
    ("/usr/lib/python3.11", ".py"), ("/usr/include", ".h"), ("/usr/share/X11/locale", "Compose"),
    ("/usr/share/doc", ".md"), ("/usr/share/perl", ".pm"), ("/usr/share/javascript", ".js"),
]
CHUNK_BYTES = 1_000_000


def texts(rng):
    """Yields the corpus's texts: translations first (shuffled, so a size limit still spans
    languages), then the plain-text sources. Files that are not UTF-8 are skipped."""
    catalogs = [os.path.join(d, f) for d, _, files in os.walk("/usr/share/locale") for f in files if f.endswith(".mo")]
    rng.shuffle(catalogs)
    for path in catalogs:
        out = subprocess.run(["msgunfmt", path], capture_output=True)
        try:
            yield out.stdout.decode("utf-8")
        except UnicodeDecodeError:
            continue
    for base, suffix in TEXT_SOURCES:
        for d, _, files in sorted(os.walk(base)):
            for f in sorted(files):
                if f.endswith(suffix):
                    try:
                        yield open(os.path.join(d, f), encoding="utf-8").read()
                    except (UnicodeDecodeError, OSError):
                        continue


def chunks(limit_bytes, rng):
    current, size, total = [], 0, 0
    for text in texts(rng):
        current.append(text)
        size += len(text.encode())
        if size >= CHUNK_BYTES:
            yield "".join(current)
            total += size
            current, size = [], 0
            if total >= limit_bytes:
                return
    if current:
        yield "".join(current)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="the tollgate executable to check")
    parser.add_argument("--mb", type=float, default=200, help="stop after about this many MB of text")
    parser.add_argument("--seed", type=int, default=7, help="order of the translation catalogs")
    parser.add_argument("--keep", help="write the chunks to this directory and keep them")
    parser.add_argument("--chat", action="store_true", help="also count each chunk as a chat turn")
    args = parser.parse_args()
    if args.chat:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import chat_reference
        encoder = chat_reference.load_encoder(ENCODER)

    reference = Tokenizer.from_file(TOKENIZER)
    folder = args.keep or tempfile.mkdtemp(prefix="tollgate-corpus-")
    os.makedirs(folder, exist_ok=True)
    mismatched = tokens = size = chats = chunk_count = 0
    try:
        for index, text in enumerate(chunks(int(args.mb * 1e6), random.Random(args.seed))):
            chunk_count += 1
            path = os.path.join(folder, f"chunk{index:04d}.txt")
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            expected = reference.encode(text, add_special_tokens=False).ids
            run = subprocess.run([args.bin, "tokens", "encode", "--file", path], capture_output=True, text=True)
            if run.returncode != 0:
                sys.exit(f"{path}: tollgate failed: {run.stderr.strip()}")
            actual = json.loads(run.stdout)
            tokens += len(expected)
            size += len(text.encode())
            if actual != expected:
                mismatched += 1
                at = next((i for i, (a, b) in enumerate(zip(actual, expected)) if a != b), min(len(actual), len(expected)))
                print(f"MISMATCH {path}: {len(actual)} ids against {len(expected)}, first difference at {at}: "
                      f"{actual[max(0, at - 3):at + 5]} against {expected[max(0, at - 3):at + 5]}\n"
                      f"  text there: {reference.decode(expected[max(0, at - 10):at + 10])!r}", flush=True)
            if args.chat:
                ascii_text = "".join(c for c in text if c.isascii() and c != "<")
                printable = "".join(c for c in ascii_text if " " <= c <= "~" and c not in '"\\')
                for variant, content in (("as is", text), ("ASCII without <", ascii_text), ("printable", printable)):
                    request = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": content}]}
                    prompt = chat_reference.render(encoder, request)
                    expected_count = len(reference.encode(prompt, add_special_tokens=False).ids)
                    request_path = path + ".json"
                    with open(request_path, "w", encoding="utf-8") as f:
                        json.dump(request, f, ensure_ascii=False)
                    run = subprocess.run([args.bin, "tokens", "count", "--chat", "--file", request_path],
                                         capture_output=True, text=True)
                    chats += 1
                    if run.returncode != 0 or run.stdout.strip() != str(expected_count):
                        mismatched += 1
                        print(f"MISMATCH {path}, chat turn {variant}: tollgate {run.stdout.strip() or run.stderr.strip()}, "
                              f"vLLM + HF {expected_count}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(folder)
    print(f"{chunk_count} chunks, {size / 1e6:.1f} MB, {tokens:,} tokens, {chats} chat counts: {mismatched} mismatched")
    sys.exit(min(mismatched, 125))


if __name__ == "__main__":
    main()
