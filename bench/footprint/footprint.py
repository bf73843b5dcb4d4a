#!/usr/bin/env python3
"""Code footprint of one proxied request: the distinct 64-byte lines of machine code it executes.

Runs each gateway under qemu-user with its translation and execution log piped through
trace-filter, sends short chat requests on one keep-alive connection (each in its own phase), and
maps the executed blocks to code lines. Unlike timing, this barely moves between runs: the measure
behind "pricing's cost is the first touch of its code" (docs/BENCHMARKS.md).

    footprint.py BIN FILTER OUT PLAIN_YAML PRICED_YAML PLAIN_PORT PRICED_PORT KEY

bench/footprint/run.sh passes these. ANALYZE_ONLY=1 reads the files a previous run left in OUT
again instead of tracing; TOP=N lists N functions per mode (default 40).
"""
import collections, http.client, os, re, signal, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from short_request import post as post_short  # noqa: E402

BIN, FILTER, OUT, PLAIN, PRICED, PLAIN_PORT, PRICED_PORT, KEY = sys.argv[1:9]
# One warm-up request per mode, then three measured ones per mode, interleaved and a second apart,
# so that background work (a timer, threads winding down) cannot fall in all three windows.
PHASES = [("json", False, "warm"), ("stream", True, "warm")] + [
    (mode, stream, label) for label in "abc" for mode, stream in (("json", False), ("stream", True))]


def post(conn, stream):
    return post_short(conn, KEY, stream).getheader("x-tollgate-cost-estimate")


def trace(name, config, port):
    prefix = f"{OUT}/{name}"
    fifo = prefix + ".fifo"
    if os.path.exists(fifo): os.unlink(fifo)
    os.mkfifo(fifo)
    # The shell's open of the FIFO waits for qemu to open it for writing.
    filt = subprocess.Popen(["sh", "-c", 'exec "$0" "$1" < "$2"', FILTER, prefix, fifo])
    gw = subprocess.Popen(["qemu-x86_64", "-d", "in_asm,exec,nochain", "-D", fifo, BIN, "serve",
                           "--config", config, "--log-level", "warning"],
                          stdout=open(prefix + ".log", "w"), stderr=subprocess.STDOUT)
    try:
        # Not bench/lib.sh's wait_ready: startup under emulation takes minutes, and the measured
        # requests reuse this connection.
        deadline = time.time() + 900
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
                conn.request("GET", "/v1/models", headers={"Authorization": f"Bearer {KEY}"})
                response = conn.getresponse()
                response.read()
                if response.status == 200: break
            except OSError:
                pass
            if time.time() > deadline or gw.poll() is not None: sys.exit(f"{name}: gateway did not start")
            time.sleep(1)
        maps = open(f"/proc/{gw.pid}/maps").read()
        # Let the tail of startup (threads winding down after the tokenizer load) pass first.
        time.sleep(20)
        estimates = []
        for _mode, stream, _label in PHASES:
            filt.send_signal(signal.SIGUSR1)
            time.sleep(0.2)
            estimates.append(post(conn, stream))
            time.sleep(1)
        filt.send_signal(signal.SIGUSR1)
        time.sleep(1)
    finally:
        gw.terminate(); gw.wait(); filt.wait()
    return maps, estimates


def blocks(prefix):
    """Translation blocks: start address -> (symbol, [(address, length)])."""
    out, current = {}, None
    ins = re.compile(r"^0x([0-9a-f]+):\s+((?:[0-9a-f]{2} )+)")
    for line in open(prefix + ".asm", errors="replace"):
        if line.startswith("IN:"):
            current = (line[3:].strip(), [])
            continue
        m = ins.match(line)
        if m and current is not None:
            address = int(m.group(1), 16)
            if not current[1]: out[address] = current
            current[1].append((address, len(m.group(2).split())))
    return out


def library(maps):
    ranges = []
    for line in maps.splitlines():
        p = line.split()
        if len(p) >= 6:
            lo, hi = (int(x, 16) for x in p[0].split("-"))
            ranges.append((lo, hi, os.path.basename(p[5])))
    return lambda a: next((n for lo, hi, n in ranges if lo <= a < hi), "?")


def lines_by_owner(prefix, phase, tbs, lib):
    owners = collections.defaultdict(set)
    for pc in set(open(f"{prefix}.{phase}.pcs").read().split()):
        symbol, extent = tbs[int(pc, 16)]
        owner = symbol or lib(int(pc, 16))
        for address, length in extent:
            owners[owner].update(range(address >> 6, ((address + length - 1) >> 6) + 1))
    return owners


def demangle(names):
    out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(names),
                         capture_output=True, text=True).stdout.splitlines()
    return out if len(out) == len(names) else names


results = {}
for name, config, port in (("plain", PLAIN, PLAIN_PORT), ("priced", PRICED, PRICED_PORT)):
    if os.environ.get("ANALYZE_ONLY") != "1":
        maps, estimates = trace(name, config, port)
        open(f"{OUT}/{name}.maps", "w").write(maps)
        if name == "priced": assert all(estimates), "the priced gateway sent no cost estimate"
    tbs, lib = blocks(f"{OUT}/{name}"), library(open(f"{OUT}/{name}.maps").read())
    results[name] = [lines_by_owner(f"{OUT}/{name}", i + 1, tbs, lib) for i in range(len(PHASES))]


def steady(name, mode):
    """Per owner, the lines every measured request of `mode` executed: background work that runs
    in one request's window only (a timer, a thread-pool wakeup) drops out."""
    runs = [results[name][i] for i, (m, _, label) in enumerate(PHASES) if m == mode and label != "warm"]
    return {k: set.intersection(*(r.get(k, set()) for r in runs)) for k in set().union(*runs)}


def total(owners): return len(set().union(*owners.values())) if owners else 0


steadies = {mode: (steady("plain", mode), steady("priced", mode)) for mode in ("json", "stream")}
print("Distinct 64-byte code lines per request (executed by each measured request of the mode):")
print()
print("| mode | plain lines (KB) | priced lines (KB) | priced − plain | only in priced |")
print("|---|---|---|---|---|")
for mode, (plain, priced) in steadies.items():
    a, b = total(plain), total(priced)
    every = set().union(*plain.values())
    n = total({k: v - every for k, v in priced.items()})
    print(f"| {mode} | {a} ({a * 64 / 1024:.1f}) | {b} ({b * 64 / 1024:.1f}) | {b - a:+d} ({(b - a) * 64 / 1024:+.1f}) | {n} ({n * 64 / 1024:.1f}) |")

for mode, (plain, priced) in steadies.items():
    every = set().union(*plain.values())
    rows = sorted(((len(v - every), k) for k, v in priced.items() if v - every), reverse=True)
    names = demangle([k for _, k in rows])
    # A line that two functions share counts for each, so the sum can exceed the table's count.
    print(f"\nCode lines only the priced gateway executes, by function ({mode}; {sum(n for n, _ in rows)} in all):")
    for (n, _), shown in zip(rows[:int(os.environ.get("TOP", "40"))], names):
        print(f"{n:4d}  {shown[:140]}")
