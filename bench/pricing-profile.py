"""Attributes perf samples of an unpriced and a priced gateway to the parts of pricing.

    pricing-profile.py OUT FREQUENCY

Reads OUT/{plain,priced}.stacks (`perf script -F ip,sym` with call chains) and OUT/*.wrk (wrk's
JSON summary, for the request count). A sample counts toward a part when any frame of its chain
matches the part's pattern, so nested parts overlap and rows do not add up; "pricing's own
frames" counts each sample once. Figures are perf-time µs per request (each sample stands for
1/FREQUENCY s of CPU).
"""
import json
import re
import sys

OUT, FREQUENCY = sys.argv[1], float(sys.argv[2])

# Frames only a priced gateway runs (Swift mangled names; see docs/BENCHMARKS.md for the parts).
PARTS = [
    ("count the prompt", r"RequestPricerC11countPrompt"),
    ("look up rates", r"RequestPricerC5rates"),
    ("estimate", r"RequestPricerC8estimate"),
    ("settle (an unpriced gateway only returns)", r"ProxyExchangeC6settle"),
    ("cost splice", r"costSplice"),
    ("settlement and account freed", r"SettlementCf[dD]|RequestAccountCf[dD]"),
]
OWN = re.compile("|".join(pattern for _, pattern in PARTS))
# Shared steps whose priced and unpriced cost can be compared.
SHARED = [
    ("routing parse (records turns when priced)", r"InferenceRequestV5parse"),
    ("answer body read and spliced", r"ProxyExchangeC15sendSuccessBody.*FySWXEfU_"),
    ("answer head and body written", r"HTTPResponderC4send6status"),
    ("exchange freed", r"ProxyExchangeCf[dD]"),
]


def stacks(path):
    """Each sample's chain of function names, leaf first."""
    chains, chain = [], []
    for line in open(path, errors="replace"):
        fields = line.split(None, 1)
        if not fields:
            if chain: chains.append(chain)
            chain = []
        elif len(fields) == 2 and re.fullmatch(r"[0-9a-f]+", fields[0]):
            chain.append(fields[1].split("+0x")[0])
    if chain: chains.append(chain)
    return chains


def per_request(chains, requests, pattern):
    rx = re.compile(pattern)
    hits = sum(1 for chain in chains if any(rx.search(frame) for frame in chain))
    return hits / FREQUENCY * 1e6 / requests


data = {}
for path in ("plain", "priced"):
    requests = json.loads(open(f"{OUT}/{path}.wrk").read())["requests"]
    data[path] = (stacks(f"{OUT}/{path}.stacks"), requests)

print("perf-time µs per request (sampling slows the gateways: compare rows, not absolute CPU)")
print()
print("| part | unpriced | priced | priced − unpriced |")
print("|---|---|---|---|")
rows = [("all samples", r".")] + [(f"pricing: {name}", pattern) for name, pattern in PARTS]
rows += [("pricing's own frames, all", OWN.pattern)] + [(f"shared: {name}", pattern) for name, pattern in SHARED]
for name, pattern in rows:
    a, b = (per_request(*data[path], pattern) for path in ("plain", "priced"))
    print(f"| {name} | {a:.2f} | {b:.2f} | {b - a:+.2f} |")
for path in ("plain", "priced"):
    chains, requests = data[path]
    print(f"\n{path}: {len(chains)} samples, {requests} requests")
