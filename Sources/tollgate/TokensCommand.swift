import ArgumentParser
import Foundation
import TollgateTokenizer

/// `tollgate tokens`: DeepSeek V4 token ids and counts, exactly as Hugging Face `tokenizers`.
struct TokensCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Encode or count DeepSeek V4 tokens (exact Hugging Face tokenizers parity).",
        subcommands: [Encode.self, Count.self, Bench.self]
    )

    /// Where the text comes from.
    struct Input: ParsableArguments {
        @Option(name: .long, help: "Read this file instead of standard input.")
        var file: String?

        func read() throws -> Data { try readCommandInput(file: file) }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the token ids of the input as one JSON array (nothing added, like encode(text).ids).")

        @OptionGroup var input: Input

        func run() throws {
            let data = try input.read()
            let ids = try DeepSeekTokenizer.shared.encode(utf8: data)
            var out: [UInt8] = [UInt8(ascii: "[")]
            out.reserveCapacity(ids.count * 7 + 2)
            for (i, id) in ids.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out.append(contentsOf: String(id).utf8)
            }
            out.append(contentsOf: "]\n".utf8)
            try writeCommandOutput(String(decoding: out, as: UTF8.self))
        }
    }

    struct Count: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the number of tokens of the input, or of a whole request with --chat/--completion.")

        @OptionGroup var input: Input

        @Flag(help: "The input is a /v1/chat/completions request: count its prompt as DeepSeek V4 lays it out.")
        var chat = false

        @Flag(help: "The input is a /v1/completions request: count its prompt (and FIM suffix).")
        var completion = false

        @Flag(help: "Print {\"tokens\":N,\"exact\":true|false,\"estimate_reasons\":[...]} instead of the number.")
        var json = false

        func validate() throws {
            if chat && completion { throw ValidationError("--chat and --completion exclude each other") }
        }

        func run() throws {
            let data = try input.read()
            let tokenizer = try DeepSeekTokenizer.shared
            let result: PromptCount
            if chat || completion {
                result = try ChatPromptCounter(tokenizer: tokenizer).countRequest(data, chat: chat)
            } else {
                result = PromptCount(tokens: try tokenizer.count(utf8: data), exact: true)
            }
            if json {
                let reasons = result.estimateReasons.map { "\"\($0)\"" }.joined(separator: ",")
                try writeCommandOutput("{\"tokens\":\(result.tokens),\"exact\":\(result.exact),\"estimate_reasons\":[\(reasons)]}\n")
            } else if result.exact {
                try writeCommandOutput("\(result.tokens)\n")
            } else {
                try writeCommandOutput("\(result.tokens) (estimated: \(result.estimateReasons.joined(separator: "; ")))\n")
            }
        }
    }

    /// Timing for bench/tokenizer/run.sh: load time, throughput, 1M-token count time, resident memory.
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure tokenizer load time, throughput and memory on a file (prints JSON).")

        @Option(name: .long, help: "Text file to count.")
        var file: String

        @Option(name: .customLong("repeat"), help: "Repetitions; medians are reported.")
        var repetitions: Int = 5

        func run() throws {
            let rssBefore = Self.residentKB()
            let loadStart = ContinuousClock.now
            let tokenizer = try DeepSeekTokenizer.loadBundled()
            let loadTime = ContinuousClock.now - loadStart
            let rssLoaded = Self.residentKB()
            let data = try readCommandInput(file: file)
            let text = String(decoding: data, as: UTF8.self)
            var times: [Double] = []
            var tokens = 0
            for _ in 0..<max(1, repetitions) {
                let start = ContinuousClock.now
                tokens = tokenizer.count(text)
                times.append(Self.seconds(ContinuousClock.now - start))
            }
            // A prefix of the file holding about 1M tokens.
            var prefixBytes = min(data.count, Int(Double(data.count) * 1_000_000 / Double(max(tokens, 1))))
            while prefixBytes < data.count && data[prefixBytes] & 0xC0 == 0x80 { prefixBytes += 1 }
            let prefix = String(decoding: data.prefix(prefixBytes), as: UTF8.self)
            var millionTimes: [Double] = []
            var millionTokens = 0
            for _ in 0..<max(1, repetitions) {
                let start = ContinuousClock.now
                millionTokens = tokenizer.count(prefix)
                millionTimes.append(Self.seconds(ContinuousClock.now - start))
            }
            let median = Self.median(times)
            print("""
                {"bytes":\(data.count),"tokens":\(tokens),"median_s":\(median),"mb_per_s":\(Double(data.count) / median / 1e6),\
                "load_ms":\(Self.seconds(loadTime) * 1000),"million_prefix_tokens":\(millionTokens),\
                "million_median_s":\(Self.median(millionTimes)),"rss_loaded_mb":\(Double(rssLoaded - rssBefore) / 1024),\
                "rss_total_mb":\(Double(Self.residentKB()) / 1024)}
                """)
        }

        static func seconds(_ d: Duration) -> Double {
            Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        }

        static func median(_ xs: [Double]) -> Double {
            let s = xs.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }

        /// VmRSS from /proc/self/status (Linux), in KiB; 0 where unavailable.
        static func residentKB() -> Int {
            guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
            return 0
        }
    }
}

extension ChatPromptCounter {
    /// The prompt of a request as the gateway counts it: a chat (its plain-chat path, or the
    /// general one where that gives up), else a `/v1/completions` request.
    func countRequest(_ json: some Collection<UInt8>, chat: Bool) throws -> PromptCount {
        chat ? try countChat(requestJSON: json) : try countCompletion(request: JSONValue.parse(json))
    }
}
