-- wrk script for bench/history.sh: chat conversations as clients send them, the whole history
-- again with every turn. 16 conversations of up to 8 turns: a 4 KB system prompt, 1 KB user
-- turns, 2 KB answers; request i is turn (i / 16) % 8 + 1 of conversation i % 16, and its newest
-- user turn is new every time (it carries i), as a real next question is. Bodies run 5-26 KB, so
-- all are counted on the event loop (up to 32 KB).
-- BENCH_TOOLS=1: each request also carries two tool schemas, as apps that offer tools send them
-- (the gateway's plain shortcut still counts these). BENCH_TOOLS=2: besides, every answer in the
-- history is a tool call and its 2 KB result, as agents send them (the shortcut too: it parses
-- only the schemas and calls, and lays the results out in place).
-- BENCH_TEXT=zh: every text in Chinese words only, as many DeepSeek users write (default: mixed,
-- mostly English). Env: BENCH_API_KEY (Bearer token). Prints the summary line of wrk-summary.lua.
local key = os.getenv("BENCH_API_KEY") or ""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if key ~= "" then wrk.headers["Authorization"] = "Bearer " .. key end

local words = {
  "the", "gateway", "counts", "tokens", "before", "routing", "price", "budget", "engine", "pool",
  "latency", "stream", "request", "because", "while", "during", "cache", "prompt", "model", "answer",
  "function", "return", "value", "error", "retry", "timeout", "queue", "throughput", "cost", "team",
  "report", "monthly", "invoice", "policy", "fallback", "overflow", "health", "probe", "window", "peak",
  "数据", "模型", "请求", "费用", "東京", "データ", "모델", "سعر", "модель", "लागत", "3.14", "2026", "x = f(y)", "{k: v}",
}
local joiner, stop = " ", "."
if os.getenv("BENCH_TEXT") == "zh" then
  joiner, stop = "", "。"
  words = {
    "网关", "在", "路由", "之前", "计算", "令牌", "价格", "预算", "引擎", "池", "延迟", "流式", "请求", "因为",
    "缓存", "提示", "模型", "回答", "函数", "返回", "错误", "重试", "超时", "队列", "吞吐量", "成本", "团队",
    "报告", "每月", "发票", "策略", "回退", "溢出", "健康", "探测", "窗口", "高峰", "数据", "费用", "东京",
  }
end
local function text(seed, bytes)
  math.randomseed(seed)
  local parts, length = {}, 0
  while length < bytes do
    local word = words[math.random(#words)]
    parts[#parts + 1] = word
    length = length + #word + #joiner
    if math.random(12) == 1 then parts[#parts] = word .. stop end
  end
  return table.concat(parts, joiner)
end
local function message(role, content)
  return '{"role":"' .. role .. '","content":"' .. content .. '"}'
end

local mode = os.getenv("BENCH_TOOLS") or "0"
-- An answer in the history: text, or (BENCH_TOOLS=2) a tool call and the tool's result.
local function answer(c, t)
  local seed = c * 1000 + 2 * t + 1
  if mode ~= "2" then return message("assistant", text(seed, 2048)) end
  local id = "call_" .. c .. "_" .. t
  return '{"role":"assistant","content":"","tool_calls":[{"id":"' .. id .. '","type":"function","function":'
    .. '{"name":"search_reports","arguments":"{\\"query\\":\\"' .. text(seed, 40) .. '\\",\\"limit\\":5}"}}]},'
    .. '{"role":"tool","tool_call_id":"' .. id .. '","content":"' .. text(seed + 500, 2048) .. '"}'
end

-- The fixed part of each conversation, built once: system prompt, then question/answer pairs.
local conversations, turns = 16, 8
local history = {}
for c = 1, conversations do
  local messages = { message("system", "Conversation " .. c .. ". " .. text(c * 1000, 4096)) }
  for t = 1, turns - 1 do
    messages[#messages + 1] = message("user", text(c * 1000 + 2 * t, 1024))
    messages[#messages + 1] = answer(c, t)
  end
  history[c] = messages
end

-- Numbered from the clock, so that no run repeats an earlier run's new turns.
local tools = ""
if mode ~= "0" then
  local function tool(name, about)
    return '{"type":"function","function":{"name":"' .. name .. '","description":"' .. about .. '",'
      .. '"parameters":{"type":"object","properties":{"query":{"type":"string","description":"What to look for."},'
      .. '"limit":{"type":"integer","description":"At most this many results."}},"required":["query"]}}}'
  end
  tools = ',"tools":[' .. tool("search_reports", text(7, 300)) .. "," .. tool("read_invoice", text(8, 300)) .. "]"
end

local sent = (os.time() % 100000) * 100000
request = function()
  local c, turn = sent % conversations + 1, math.floor(sent / conversations) % turns + 1
  local messages = {}
  for m = 1, 2 * turn - 1 do messages[m] = history[c][m] end
  messages[2 * turn] = message("user", "Request " .. sent .. ": " .. text(sent, 1024))
  sent = sent + 1
  local body = '{"model":"deepseek-v4-flash","messages":[' .. table.concat(messages, ",") .. ']' .. tools .. ',"max_tokens":16}'
  return wrk.format(nil, nil, nil, body)
end

-- The summary line, from the file beside this one.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "wrk-summary.lua")
