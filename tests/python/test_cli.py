"""The `tokens`, `price` and `serve` commands as a user runs them: the real binary, stdin and files.

The tokenizer's parity with Hugging Face is proven by the Swift suites; these tests hold the
commands' contract: output shapes, the chat count behind the price, and errors that say what is
wrong (exit status 1, no usage text, no crash) while the arguments themselves were fine.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

import httpx

from conftest import REPO, free_port, tollgate_bin

TEXT = "Hello, 世界! Numbers 1234567 and <｜begin▁of▁sentence｜> inside text.\n"
REQUEST = {"model": "deepseek-v4-flash", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100}


def run(*args: str, stdin: bytes = b"", cwd: Path = REPO, env: dict[str, str] | None = None):
    return subprocess.run(
        [str(tollgate_bin()), *args], input=stdin, capture_output=True, cwd=cwd, env=env, timeout=120
    )


def ok(*args: str, **options) -> str:
    result = run(*args, **options)
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def refused(*args: str, **options) -> str:
    """Runs a command that must fail cleanly; returns its error text."""
    result = run(*args, **options)
    stderr = result.stderr.decode()
    assert result.returncode == 1, f"exit {result.returncode}: {stderr}"  # not a crash, not a usage error
    assert "Usage:" not in stderr
    return stderr


def test_encode_prints_one_json_array_and_count_its_length(tmp_path: Path):
    ids = json.loads(ok("tokens", "encode", stdin=TEXT.encode()))
    assert isinstance(ids, list) and all(isinstance(i, int) and i >= 0 for i in ids)
    assert 0 in ids, "the BOS string inside text is the special token, as in HF"
    assert int(ok("tokens", "count", stdin=TEXT.encode())) == len(ids)
    path = tmp_path / "text.txt"
    path.write_bytes(TEXT.encode())
    assert json.loads(ok("tokens", "encode", "--file", str(path))) == ids


def test_empty_input_has_no_tokens():
    assert json.loads(ok("tokens", "encode")) == []
    assert int(ok("tokens", "count")) == 0


def test_invalid_utf8_is_a_clear_error():
    error = refused("tokens", "encode", stdin=b"ok \xff\xfe")
    assert "not valid UTF-8" in error and "byte 3" in error


def test_a_missing_file_says_why_and_where_it_was_looked_up(tmp_path: Path):
    error = refused("tokens", "count", "--file", "missing.txt", cwd=tmp_path)
    assert "missing.txt" in error and "No such file or directory" in error and str(tmp_path) in error
    assert "it is a folder" in refused("tokens", "count", "--file", str(tmp_path))


def test_unreadable_input_or_unwritable_output_is_an_error_not_a_crash(tmp_path: Path):
    folder = os.open(tmp_path, os.O_RDONLY)  # standard input that cannot be read
    try:
        result = subprocess.run([str(tollgate_bin()), "tokens", "count"], stdin=folder, capture_output=True, timeout=60)
    finally:
        os.close(folder)
    assert result.returncode == 1, result.stderr.decode()
    assert "cannot read standard input: Is a directory" in result.stderr.decode()
    for command in (["tokens", "encode"], ["tokens", "count"]):
        with open("/dev/full", "wb") as full:
            result = subprocess.run(
                [str(tollgate_bin()), *command], input=b"hi", stdout=full, stderr=subprocess.PIPE, timeout=60)
        assert result.returncode == 1, result.stderr.decode()
        assert "cannot write the output: No space left on device" in result.stderr.decode()


def test_file_reads_pipes_and_devices_as_well_as_files():
    pipe = subprocess.run(
        ["bash", "-c", f'"{tollgate_bin()}" tokens count --file <(printf "hello world")'], capture_output=True, timeout=60)
    assert pipe.returncode == 0, pipe.stderr.decode()
    assert int(pipe.stdout) == int(ok("tokens", "count", stdin=b"hello world"))
    assert int(ok("tokens", "count", "--file", "/dev/null")) == 0


def test_a_request_to_count_that_the_engine_would_refuse_is_refused():
    """Not counted as if it were fine: JSON with a stray byte (counted as U+FFFD before), not
    JSON at all (reported as a broken tokenizer file before), prompts vLLM does not take."""
    error = refused("tokens", "count", "--chat", stdin=b'{"messages":[{"role":"user","content":"a\xff"}]}')
    assert "invalid_utf8" in error and "byte 40" in error
    assert "invalid_json: the request is not valid JSON" in refused("tokens", "count", "--chat", stdin=b"{")
    assert "invalid_json" in refused("tokens", "count", "--completion", stdin=b"")
    for prompt in ([], [["text"]], [1, -2], [[1.5]]):
        error = refused("tokens", "count", "--completion", stdin=json.dumps({"prompt": prompt}).encode())
        assert "invalid_prompt" in error, prompt
    assert int(ok("tokens", "count", "--completion", stdin=b'{"prompt":[[1,2],[3]]}')) == 3


def test_chat_count_lays_out_the_turns():
    text = int(ok("tokens", "count", stdin=b"hi"))
    off = dict(REQUEST, thinking={"type": "disabled"})
    # BOS, <｜User｜>, the text, <｜Assistant｜>, </think>
    assert int(ok("tokens", "count", "--chat", stdin=json.dumps(off).encode())) == 4 + text
    counted = json.loads(ok("tokens", "count", "--chat", "--json", stdin=json.dumps(REQUEST).encode()))
    assert counted["exact"] is True and counted["tokens"] > 4 + text, "thinking mode adds the effort preamble"


def test_price_estimates_every_target_from_the_counted_prompt(tmp_path: Path):
    prompt = int(ok("tokens", "count", "--chat", stdin=json.dumps(REQUEST).encode()))

    def estimates(max_tokens: int) -> dict[tuple[str, str], Decimal]:
        env = dict(os.environ, TOLLGATE_HOME=str(REPO))  # run outside the checkout: the book is found there
        body = json.dumps(dict(REQUEST, max_tokens=max_tokens)).encode()
        report = json.loads(ok("price", "--chat", "--format", "json", stdin=body, cwd=tmp_path, env=env))
        assert report["currency"] == "USD"
        for row in report["estimates"]:
            assert row["prompt_tokens"] == prompt and row["output_tokens"] == max_tokens
            assert row["book_version"] == report["book_version"]
        return {(row["target"], row["model"]): Decimal(row["cost"]) for row in report["estimates"]}

    short, long = estimates(100), estimates(200)
    assert {target for target, _ in short} == {"deepseek-api", "flash-pool", "pro-pool"}
    for key, cost in short.items():
        assert Decimal(0) < cost < long[key], key


def test_price_covers_every_choice_and_refuses_what_the_gateway_refuses():
    one = json.loads(ok("price", "--chat", "--format", "json", stdin=json.dumps(REQUEST).encode()))
    three = json.loads(ok("price", "--chat", "--format", "json", stdin=json.dumps(dict(REQUEST, n=3)).encode()))
    assert [row["output_tokens"] for row in three["estimates"]] == [3 * row["output_tokens"] for row in one["estimates"]]
    table = ok("price", "--chat", stdin=json.dumps(dict(REQUEST, n=3)).encode())
    assert "100 tokens (max_tokens) for each of 3 choices (n)" in table
    # Read by the gateway's own parser: a max_tokens no engine could honour is refused, not priced.
    error = refused("price", "--chat", stdin=json.dumps(dict(REQUEST, max_tokens=10**17)).encode())
    assert "the gateway would refuse this request" in error and "'max_tokens' must be an integer from 0 to 2147483647" in error
    assert "must be from 0 to 2147483647" in run("price", "--chat", "--max-tokens", str(2**31), stdin=b"{}").stderr.decode()


def test_price_of_a_completion_counts_its_prompts_and_never_thinks():
    body = {"model": "deepseek-v4-flash", "prompt": ["def add(a, b):", "def sub(a, b):"], "max_tokens": 10}
    prompt = int(ok("tokens", "count", "--completion", stdin=json.dumps(body).encode()))
    report = json.loads(ok("price", "--completion", "--format", "json", stdin=json.dumps(body).encode()))
    assert report["thinking"] is False and report["prompt_exact"] is True
    # Two prompts, each answered with up to max_tokens.
    assert {(row["prompt_tokens"], row["output_tokens"]) for row in report["estimates"]} == {(prompt, 20)}
    table = ok("price", "--completion", stdin=json.dumps(body).encode())
    assert "chat mode" in table and "for each of 2 choices (n × prompts)" in table
    # Without max_tokens a completion takes the book's chat-mode length, not the thinking one.
    unbounded = json.loads(ok("price", "--completion", "--format", "json", stdin=json.dumps(dict(body, max_tokens=None)).encode()))
    flash = [row for row in unbounded["estimates"] if row["model"] == "deepseek-v4-flash"]
    assert flash and all(row["output_tokens"] == 2 * 1024 for row in flash)
    assert "--chat for a chat completion request or --completion" in run("price", stdin=b"{}").stderr.decode()
    assert "--chat for a chat completion request or --completion" in run("price", "--chat", "--completion", stdin=b"{}").stderr.decode()


def test_price_without_a_book_names_where_it_looked(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k != "TOLLGATE_HOME"}
    body = json.dumps(REQUEST).encode()
    assert "policies/prices.yaml not found in" in refused("price", "--chat", stdin=body, cwd=tmp_path, env=env)
    error = refused("price", "--chat", "--prices", "nope.yaml", stdin=body, cwd=tmp_path)
    assert "nope.yaml" in error and "No such file or directory" in error and str(tmp_path) in error


def test_price_refuses_a_request_that_is_not_json():
    assert "not valid JSON" in refused("price", "--chat", stdin=b"{", cwd=REPO)


def test_serve_refuses_a_broken_configuration_or_price_book_with_file_and_line(tmp_path: Path):
    config = tmp_path / "tollgate.yaml"
    config.write_text("targets: [\n")
    error = refused("serve", "--config", str(config))
    assert f"{config}:2: invalid YAML" in error
    book = tmp_path / "prices.yaml"
    shipped = (REPO / "policies" / "prices.yaml").read_text()
    book.write_text(shipped.replace('input_cache_miss: "0.14"', 'input_cache_miss: "-0.14"', 1))
    line = next(n for n, text in enumerate(book.read_text().splitlines(), 1) if '"-0.14"' in text)
    config.write_text(
        "targets:\n  - {name: flash-pool, kind: pool, engine: vllm, models: [deepseek-v4-flash],"
        " endpoints: ['http://127.0.0.1:9/v1']}\n"
        f"pricing: {{price_book: {book}, repeated_text_slots: 1024}}\n"
    )
    error = refused("serve", "--config", str(config), "--port", "0")
    assert f"{book}:{line}:" in error and "negative price" in error


def test_serve_check_prints_what_the_files_hold_or_refuses_them_with_file_and_line(tmp_path: Path):
    book = tmp_path / "prices.yaml"
    shipped = (REPO / "policies" / "prices.yaml").read_text()
    book.write_text(shipped)
    target = (
        "targets:\n  - {name: flash-pool, kind: pool, engine: vllm, models: [deepseek-v4-flash],"
        " endpoints: ['http://127.0.0.1:9/v1']}\n"
    )
    config = tmp_path / "tollgate.yaml"
    config.write_text(target + f"pricing: {{price_book: {book}}}\n")
    out = ok("serve", "--config", str(config), "--check")
    assert f"{config}: ok, targets flash-pool" in out
    assert f"{book}: ok, USD, versions v4-2026-07, v4-2026-11; in force now: v4-2026-11" in out

    broken = shipped.replace('output: "0.28"}', 'output: "0.28", reasoning: "0.28"}', 1)
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if 'reasoning: "0.28"' in text)
    book.write_text(broken)
    error = refused("serve", "--config", str(config), "--check")
    assert f"{book}:{line}:" in error and "reasoning" in error

    config.write_text(target)
    env = dict(os.environ, TOLLGATE_DATABASE_URL="postgres://tollgate@127.0.0.1:9/tollgate")
    assert "a database needs a price book" in refused("serve", "--config", str(config), "--check", env=env)
    assert "no price book" in ok("serve", "--config", str(config), "--check", env={k: v for k, v in env.items() if k != "TOLLGATE_DATABASE_URL"})


class ServedPriceBook:
    """`tollgate serve` running the shipped price book from a copy in `folder`, with `pricing`
    options added; its admin API shows the book in force. Used as a context manager, it stops the
    gateway and keeps its log (`stderr`) and exit status."""

    def __init__(self, folder: Path, pricing: str):
        self.book = folder / "prices.yaml"
        self.shipped = (REPO / "policies" / "prices.yaml").read_text()
        self.book.write_text(self.shipped)
        config = folder / "tollgate.yaml"
        config.write_text(
            "targets:\n  - {name: flash-pool, kind: pool, engine: vllm, models: [deepseek-v4-flash],"
            " endpoints: ['http://127.0.0.1:9/v1']}\n"
            f"pricing: {{price_book: {self.book}, {pricing}}}\n"
        )
        port = free_port()
        self.process = subprocess.Popen(
            [str(tollgate_bin()), "serve", "--config", str(config), "--port", str(port), "--threads", "1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=dict(os.environ, TOLLGATE_ADMIN_TOKEN="price-book-test-token"),
        )
        self.admin = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": "Bearer price-book-test-token"}, timeout=10
        )
        self.stderr = ""

    def __enter__(self) -> ServedPriceBook:
        return self

    def __exit__(self, *_) -> None:
        self.process.send_signal(signal.SIGTERM)
        _, self.stderr = self.process.communicate(timeout=60)
        self.admin.close()

    def in_force(self, until: str | None = None) -> str:
        """The version in force, once it is `until` (or 30 s have passed); the process must live."""
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.process.stderr.read()
            try:
                shown = self.admin.get("/admin/price-book").json()["in_force"]
                if until is None or shown == until or time.monotonic() > deadline:
                    return shown
            except httpx.TransportError:
                assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.1)

    def with_versions(self, *ids: str) -> str:
        """The shipped book with versions added after its last, one a day from 2026-12-01 (all in
        force by now): a reload may add versions, never change one that has been in force."""
        last = self.shipped[self.shipped.index("  - id: v4-2026-11") :]
        text = self.shipped.rstrip("\n") + "\n"
        for day, version in enumerate(ids, 1):
            text += last.replace("id: v4-2026-11", f"id: {version}").replace(
                "2026-11-01T00:00:00Z", f"2026-12-{day:02d}T00:00:00Z"
            ).rstrip("\n") + "\n"
        return text

    def broken(self) -> tuple[str, int]:
        """The shipped book with a negative price, and the line it is on."""
        text = self.shipped.replace('input_cache_miss: "0.14"', 'input_cache_miss: "-0.14"', 1)
        return text, next(n for n, line in enumerate(text.splitlines(), 1) if '"-0.14"' in line)

    def refusals(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if "price book reload refused" in line]


def test_serve_reloads_its_price_book_on_sighup_and_keeps_it_when_the_file_is_refused(tmp_path: Path):
    """Operators edit prices without a restart: SIGHUP re-reads the book; a broken edit is logged
    with file and line and the running book stays in force."""
    with ServedPriceBook(tmp_path, "repeated_text_slots: 1024") as served:
        assert served.in_force() == "v4-2026-11"
        served.book.write_text(served.with_versions("v4-2026-12"))
        served.process.send_signal(signal.SIGHUP)
        assert served.in_force(until="v4-2026-12") == "v4-2026-12"

        broken, line = served.broken()
        served.book.write_text(broken)
        served.process.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert served.in_force() == "v4-2026-12"  # still alive, still the last good book

        # A version that has been in force keeps its prices: the ledger names it on its requests.
        served.book.write_text(served.with_versions("v4-2026-12").replace('output: "0.28"', 'output: "0.30"', 1))
        served.process.send_signal(signal.SIGHUP)
        time.sleep(1)
        assert served.in_force() == "v4-2026-12"
    assert served.process.returncode == 0, served.stderr
    assert "price book reloaded" in served.stderr
    refusal, changed = served.refusals()
    assert f"{served.book}:{line}:" in refusal and "negative price" in refusal
    assert f"{served.book}:23: version 'v4-2026-07' differs from the running one" in changed, changed


def test_serve_watching_its_price_book_reloads_each_change_and_logs_a_refusal_once(tmp_path: Path):
    """With `pricing.watch_ms`, a book copied onto every replica's disk takes effect without a
    signal: each change of the file's bytes is reloaded; a broken one is refused once (logged with
    file and line, the last good book stays), and fixing it is picked up."""
    with ServedPriceBook(tmp_path, "watch_ms: 200") as served:

        def publish(text: str) -> None:  # as a ConfigMap update does: the whole file at once
            (tmp_path / "prices.yaml.new").write_text(text)
            os.replace(tmp_path / "prices.yaml.new", served.book)

        assert served.in_force() == "v4-2026-11"
        publish(served.with_versions("v4-2026-12-watched"))
        assert served.in_force(until="v4-2026-12-watched") == "v4-2026-12-watched"

        broken, line = served.broken()
        publish(broken)
        time.sleep(1.5)  # seven looks at the same broken file
        assert served.in_force() == "v4-2026-12-watched"  # alive, the last good book in force
        refusal = served.admin.get("/admin/price-book").json()["last_refusal"]  # shown, not only logged
        assert f"{served.book}:{line}:" in refusal["reason"] and "negative price" in refusal["reason"]

        publish(served.with_versions("v4-2026-12-watched", "v4-2026-12-fixed"))
        assert served.in_force(until="v4-2026-12-fixed") == "v4-2026-12-fixed"
        assert served.admin.get("/admin/price-book").json()["last_refusal"] is None
    assert served.process.returncode == 0, served.stderr
    assert len(served.refusals()) == 1, served.refusals()  # once per broken file, not once per look
    assert f"{served.book}:{line}:" in served.refusals()[0] and "negative price" in served.refusals()[0]
    assert served.stderr.count("price book reloaded") == 2
