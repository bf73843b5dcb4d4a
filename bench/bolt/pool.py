"""Pools several two-build runs of bench/pricing.sh (CONTROL_BIN = BEFORE_BIN = the other build)
into one table: every repetition of every run is one pair, so a noisy day's short runs add up.

    python3 bench/bolt/pool.py /tmp/run1/results.jsonl /tmp/run2/results.jsonl ...

Columns as in pricing.sh's two-build table: "this" is TOLLGATE_BENCH_BIN's build (plain, priced),
"other" is CONTROL_BIN's (control, before); median [95% interval of the median]."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from paired import show  # noqa: E402

runs = [[json.loads(line) for line in open(path)] for path in sys.argv[1:]]
pct = lambda v: f"{v:.1%}"
us = lambda v: f"{v:+.1f}"
points = sorted({(r["stream"], r["conn"]) for rows in runs for r in rows})
print("| mode | conns | repetitions | this/other unpriced req/s | pricing's cost, other (CPU µs) | pricing's cost, this | "
      "this − other, pricing's cost | priced/unpriced req/s, other | priced/unpriced req/s, this |")
print("|---|---|---|---|---|---|---|---|---|")
for stream, c in points:
    speed, cost_other, cost_this, difference, ratio_other, ratio_this = [], [], [], [], [], []
    for rows in runs:
        def pick(path):
            chosen = (r for r in rows if r["path"] == path and r["stream"] == stream and r["conn"] == c)
            return [r["r"] for r in sorted(chosen, key=lambda r: r["rep"])]
        for this_u, other_u, this_p, other_p in zip(pick("plain"), pick("control"), pick("priced"), pick("before")):
            this, other = this_p["cpu_us"] - this_u["cpu_us"], other_p["cpu_us"] - other_u["cpu_us"]
            speed.append(this_u["rps"] / other_u["rps"])
            cost_other.append(other)
            cost_this.append(this)
            difference.append(this - other)
            ratio_other.append(other_p["rps"] / other_u["rps"])
            ratio_this.append(this_p["rps"] / this_u["rps"])
    if speed:
        print(f"| {'stream' if stream else 'json'} | {c} | {len(speed)} | {show(speed, pct)} | {show(cost_other, us)} | "
              f"{show(cost_this, us)} | {show(difference, us)} | {show(ratio_other, pct)} | {show(ratio_this, pct)} |")
