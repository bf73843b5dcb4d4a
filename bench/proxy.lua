-- wrk script for bench/proxy.sh: POST one chat completion (streaming or not); print a JSON summary.
-- Env: BENCH_API_KEY (Bearer token, optional), BENCH_MODEL, BENCH_STREAM=1 for SSE.
local key = os.getenv("BENCH_API_KEY") or ""
local model = os.getenv("BENCH_MODEL") or "deepseek-v4-flash"
local stream = os.getenv("BENCH_STREAM") == "1"

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end
local extra = ""
if stream then extra = ',"stream":true,"stream_options":{"include_usage":true}' end
wrk.body = '{"model":"' .. model .. '","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16' .. extra .. '}'

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"rps":%.1f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d}\n',
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
