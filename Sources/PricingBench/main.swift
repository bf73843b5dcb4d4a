// The parts of pricing one short chat request, timed in-process (bench/pricing-parts.sh runs it
// from the repository root), and the routing parse of long texts. "hot": the best of five loops of
// 200,000 calls (fewer for slow parts); "cold": the median of 301 calls, each after walking 16 MB
// so that caches hold none of the tables, as on a busy box.
import Foundation
import TollgateMoney
import TollgatePricing
import TollgateTokenizer
import TollgateWire

let request = Array(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"Say hello."}],"max_tokens":16}"#.utf8)
// The same turn with its content as text parts, as many client libraries send it.
let partsRequest = Array(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":[{"type":"text","text":"Say hello."}]}],"max_tokens":16}"#.utf8)
// Long single-turn requests in three scripts, for the routing parse's speed on text: 30 KB of
// English, of Chinese (three-byte scalars), and of the two mixed word by word.
func longRequest(_ unit: String) -> [UInt8] {
    let text = String(repeating: unit, count: 30_000 / unit.utf8.count)
    return Array(#"{"model":"deepseek-v4-flash","messages":[{"role":"user","content":"\#(text)"}],"max_tokens":16}"#.utf8)
}
let longRequests = [
    ("English", longRequest("the gateway counts tokens. ")), ("Chinese", longRequest("模型请求费用数据")),
    ("mixed", longRequest("the 模型 request 数据 ")),
]
// A vLLM-shaped answer as the simulator sends it; usage sits at `usageRange`.
let response = Array(#"{"id":"chatcmpl-f937721baa76f418000000000003e1ee","object":"chat.completion","created":1795920567,"model":"deepseek-v4-flash","choices":[{"index":0,"message":{"role":"assistant","content":"","reasoning":"Weigh against maybe constraints what consider facts short compare check check compare.","tool_calls":[]},"logprobs":null,"finish_reason":"length","stop_reason":null}],"usage":{"prompt_tokens":10,"total_tokens":26,"completion_tokens":16,"prompt_tokens_details":null,"completion_tokens_details":{"reasoning_tokens":16}},"prompt_logprobs":null}"#.utf8)
let counter = ChatPromptCounter(tokenizer: try DeepSeekTokenizer.loadBundled())
let estimator = CostEstimator(book: try PriceBook.load(path: "policies/prices.yaml"))
let date = Date()
let usageRange = response.withUnsafeBytes { ResponseShape.inspect($0)!.usageRange! }
let usage = MeteredUsage(promptTokens: 10, completionTokens: 16)
let money = Money(nanos: 45_764, currency: "USD")

var sink = 0
func hot(_ name: String, _ body: () -> Int) -> Double {
    let warm = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<1000 { sink &+= body() }
    // 200,000 calls a loop, fewer for slow parts (about 0.2 s a loop).
    let calls = min(200_000, max(1_000, Int(200_000_000_000 / (DispatchTime.now().uptimeNanoseconds - warm))))
    var best = Double.infinity
    for _ in 0..<5 {
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<calls { sink &+= body() }
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / Double(calls))
    }
    return best
}

var junk = [UInt8](repeating: 1, count: 16 << 20)
func cold(_ body: () -> Int) -> Double {
    var times: [UInt64] = []
    for _ in 0..<301 {
        for i in stride(from: 0, to: junk.count, by: 64) { junk[i] &+= 1 }
        let start = DispatchTime.now().uptimeNanoseconds
        sink &+= body()
        times.append(DispatchTime.now().uptimeNanoseconds - start)
    }
    return Double(times.sorted()[150])
}

var parts: [(String, () -> Int)] = [
    // The gateway parses every request to route it; with a price book that parse also records a
    // plain chat's turns, which are then counted. The first row is the parse alone, as unpriced.
    ("routing parse alone", { request.withUnsafeBytes { (try? InferenceRequest.parse($0, endpoint: .chat))?.maxTokens ?? 0 } }),
    ("routing parse recording turns", {
        request.withUnsafeBytes { (try? InferenceRequest.parse($0, endpoint: .chat, recordingTurns: true))?.chatTurns?.turns.count ?? 0 }
    }),
    ("parse recording turns + count them", { request.withUnsafeBytes { (try? counter.countChat(requestBytes: $0))?.tokens ?? 0 } }),
    ("tokenize the content alone", { counter.tokenizer.count("Say hello.") }),
    ("count prompt (JSON tree + render)", { (try? counter.countChat(request: JSONValue.parse(request)))?.tokens ?? 0 }),
    ("content as text parts: parse recording turns + count them", {
        partsRequest.withUnsafeBytes { (try? counter.countChat(requestBytes: $0))?.tokens ?? 0 }
    }),
    ("content as text parts: count prompt (JSON tree + render)", {
        (try? counter.countChat(request: JSONValue.parse(partsRequest)))?.tokens ?? 0
    }),
    ("estimate (rates + price)", {
        Int(estimator.estimate(target: "flash-pool", model: "deepseek-v4-flash", promptTokens: 10, maxTokens: 16, thinking: true, at: date)?.money.nanos ?? 0)
    }),
    ("read usage from the answer", { response.withUnsafeBytes { TokenUsage.parse(UnsafeRawBufferPointer(rebasing: $0[usageRange]))?.promptTokens ?? 0 } }),
    ("find usage from the end", { response.withUnsafeBytes { TrailingUsage.find(in: $0)?.count ?? 0 } }),
    ("find usage walking forwards", { response.withUnsafeBytes { ResponseShape.inspect($0)?.usageRange?.count ?? 0 } }),
    ("actual cost", { Int(estimator.actual(target: "flash-pool", model: "deepseek-v4-flash", usage: usage, at: date)?.money.nanos ?? 0) }),
    ("format money", { money.decimalString.utf8.count }),
]
for (script, body) in longRequests {
    parts.append(("routing parse alone, 30 KB of \(script)", { body.withUnsafeBytes { (try? InferenceRequest.parse($0, endpoint: .chat))?.maxTokens ?? 0 } }))
}
print("| part | hot ns | cold ns |")
print("|---|---|---|")
for (name, body) in parts {
    print("| \(name) | \(Int(hot(name, body))) | \(Int(cold(body))) |")
}
if sink == 42 { print("") }
