-- The end of every wrk run of the gateway benchmarks (loaded by proxy.lua and history.lua): one
-- JSON line, prefixed WRKJSON, with requests, req/s, p50 and p99 in ms, and all errors summed.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
