"""Pricing's cost within each of two builds, from two-build runs of bench/pricing.sh
(CONTROL_BIN = BEFORE_BIN = the other build). pricing.sh prints this table for its own run;
given several runs' results, every repetition of every run is one pair, so a noisy day's short
runs add up.

    python3 bench/two-builds.py /tmp/run1/results.jsonl /tmp/run2/results.jsonl ...

"this" is TOLLGATE_BENCH_BIN's build (plain, priced), "other" is CONTROL_BIN's (control,
before); CPU µs per request; median [95% interval of the median]."""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from paired import show  # noqa: E402

runs = [[json.loads(line) for line in open(path)] for path in sys.argv[1:]]
pct = lambda v: f"{v:.1%}"
us = lambda v: f"{v:+.1f}"
points = sorted({(r["stream"], r["conn"]) for rows in runs for r in rows})
print("| mode | conns | repetitions | other unpriced CPU µs | this unpriced CPU µs | this/other unpriced req/s | "
      "pricing's cost, other (CPU µs) | pricing's cost, this | "
      "this − other, pricing's cost | priced/unpriced req/s, other | priced/unpriced req/s, this |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for stream, c in points:
    cpu_other, cpu_this, speed, cost_other, cost_this, difference, ratio_other, ratio_this = [], [], [], [], [], [], [], []
    for rows in runs:
        def pick(path):
            chosen = (r for r in rows if r["path"] == path and r["stream"] == stream and r["conn"] == c)
            return [r["r"] for r in sorted(chosen, key=lambda r: r["rep"])]
        for this_u, other_u, this_p, other_p in zip(pick("plain"), pick("control"), pick("priced"), pick("before")):
            this, other = this_p["cpu_us"] - this_u["cpu_us"], other_p["cpu_us"] - other_u["cpu_us"]
            cpu_other.append(other_u["cpu_us"])
            cpu_this.append(this_u["cpu_us"])
            speed.append(this_u["rps"] / other_u["rps"])
            cost_other.append(other)
            cost_this.append(this)
            difference.append(this - other)
            ratio_other.append(other_p["rps"] / other_u["rps"])
            ratio_this.append(this_p["rps"] / this_u["rps"])
    if speed:
        print(f"| {'stream' if stream else 'json'} | {c} | {len(speed)} | {statistics.median(cpu_other):.1f} | "
              f"{statistics.median(cpu_this):.1f} | {show(speed, pct)} | {show(cost_other, us)} | "
              f"{show(cost_this, us)} | {show(difference, us)} | {show(ratio_other, pct)} | {show(ratio_this, pct)} |")
