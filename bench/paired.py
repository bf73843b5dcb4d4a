"""Statistics shared by the paired gateway benchmarks (bench/pricing.sh, bench/history.sh)."""
import math
import statistics


def median_ci(values):
    """Median and its distribution-free 95% interval (order statistics of the binomial)."""
    xs, n = sorted(values), len(values)
    k, tail = 0, 0.0
    while True:  # largest k with P(Binomial(n, 1/2) < k) <= 2.5%
        p = math.comb(n, k) / 2**n
        if tail + p > 0.025:
            break
        tail += p
        k += 1
    lo, hi = (xs[k - 1], xs[n - k]) if k > 0 else (xs[0], xs[-1])
    return statistics.median(xs), lo, hi


def show(values, fmt):
    """The median of paired differences or ratios with its 95% interval, formatted."""
    m, lo, hi = median_ci(values)
    return f"{fmt(m)} [{fmt(lo)}, {fmt(hi)}]"
