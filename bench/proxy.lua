-- wrk script for bench/proxy.sh: POST one chat completion (streaming or not); print a JSON summary
-- (wrk-summary.lua).
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

-- The summary line, from the file beside this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk-summary.lua")
