import Foundation
import TollgateWire

/// The markers of the DeepSeek V4 chat layout, each with whether it splits text cleanly.
///
/// When a marker splits cleanly, the text before and after it can be counted separately and the
/// sum equals the count of the whole rendered prompt; that lets ``ChatPromptCounter`` count a
/// plain chat request without building the prompt string. Whether a marker splits cleanly is
/// checked against the loaded tokenizer's added tokens, not assumed.
struct LayoutMarkers: Sendable {
    struct Marker: Sendable {
        let bytes: [UInt8]
        let splitsCleanly: Bool

        init(_ text: String, _ tokenizer: DeepSeekTokenizer) {
            bytes = Array(text.utf8)
            splitsCleanly = tokenizer.splitsCleanly(text)
        }
    }

    let bos, eos, user, assistant, thinkStart, thinkEnd: Marker
    let effortHigh = Array(ChatRenderer.effortHigh.utf8)
    let effortMax = Array(ChatRenderer.effortMax.utf8)
    /// Token counts of the two preambles, and whether text after them may be counted apart (see
    /// ``ChatPromptCounter/preambleStandsAlone(before:)``).
    let effortHighTokens, effortMaxTokens: Int
    let preamblesEndCleanly: Bool
    let blockSeparator = Array("\n\n".utf8)
    let toolResultOpen = Array(ChatRenderer.toolResultOpen.utf8)
    let toolResultClose = Array(ChatRenderer.toolResultClose.utf8)
    /// The most bytes the layout adds around one message's texts: four markers or separators, and
    /// a tool result's two tags.
    let perMessage: Int
    /// Tokens the layout adds around a lone user turn (BOS, User, Assistant and the opener; in
    /// thinking mode the high-effort preamble too), nil unless each of them stands alone.
    let aroundLoneUserTurn: (chat: Int, thinking: Int)?
    /// The markers that split cleanly, to find them in a rendered prompt.
    let clean: [[UInt8]]
    /// The byte every clean marker starts with (`<` in the shipped vocabulary), nil if they differ.
    let cleanLead: UInt8?
    /// Fill-in-the-middle, `begin{prompt}hole{suffix}end`; when all three split cleanly a FIM
    /// prompt counts as its prompt, its suffix and three.
    static let fim = (begin: "<｜fim▁begin｜>", hole: "<｜fim▁hole｜>", end: "<｜fim▁end｜>")
    let fimSplitsCleanly: Bool

    init(tokenizer: DeepSeekTokenizer) {
        bos = Marker(ChatRenderer.bos, tokenizer)
        eos = Marker(ChatRenderer.eos, tokenizer)
        user = Marker(ChatRenderer.user, tokenizer)
        assistant = Marker(ChatRenderer.assistant, tokenizer)
        thinkStart = Marker(ChatRenderer.thinkStart, tokenizer)
        thinkEnd = Marker(ChatRenderer.thinkEnd, tokenizer)
        let all = [bos, eos, user, assistant, thinkStart, thinkEnd]
        perMessage = 4 * max(all.map(\.bytes.count).max()!, blockSeparator.count) + toolResultOpen.count + toolResultClose.count
        clean = all.filter(\.splitsCleanly).map(\.bytes)
        let leads = Set(clean.map { $0[0] })
        cleanLead = leads.count == 1 ? leads.first : nil
        effortHighTokens = tokenizer.count(ChatRenderer.effortHigh)
        effortMaxTokens = tokenizer.count(ChatRenderer.effortMax)
        preamblesEndCleanly = [ChatRenderer.effortHigh, ChatRenderer.effortMax].allSatisfy {
            $0.hasSuffix(".\n\n") && tokenizer.noAddedTokenRunsPastEnd(of: $0)
        }
        let standsAlone = preamblesEndCleanly && [bos, user, assistant, thinkStart, thinkEnd].allSatisfy(\.splitsCleanly)
        aroundLoneUserTurn = standsAlone ? (chat: 4, thinking: 4 + effortHighTokens) : nil
        fimSplitsCleanly = [Self.fim.begin, Self.fim.hole, Self.fim.end].allSatisfy(tokenizer.splitsCleanly)
    }
}

extension LayoutMarkers {
    /// The first position at or after `start` where a clean marker may begin (memchr for their
    /// common lead byte: a long prompt is scanned at memory speed), or nil. Without a common lead
    /// byte (not so in the shipped vocabulary) it finds none, and the prompt is one piece.
    func nextCleanMarkerStart(in bytes: UnsafeBufferPointer<UInt8>, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress, let lead = cleanLead else { return nil }
        guard let found = memchr(base + start, Int32(lead), bytes.count - start) else { return nil }
        return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
    }
}

extension ChatPromptCounter {
    /// The prompt tokens of a plain chat request, from the turns the routing parse recorded (see
    /// ``ChatTurns``), laid out as ``ChatRenderer`` lays it out but counted piece by piece. `body`
    /// must be the bytes that parse read (the turns are ranges of it); `thinking` is the request's
    /// thinking mode (``InferenceRequest/thinking``). Long texts between markers are looked up in
    /// `repeats` when given. Nil when the recorded tool schemas or calls cannot be read (the
    /// general path then renders the request).
    public func countTurns(
        _ chat: ChatTurns, thinking: Bool, body: UnsafeRawBufferPointer, repeats: RepeatedTextCounts.Scoped? = nil
    ) -> PromptCount? {
        let effort = chat.reasoningEffort.map(ChatRenderer.Effort.init(requested:)) ?? .high
        guard chat.tools != nil || !chat.toolCalls.isEmpty else {
            return countLaidOut(chat.turns, thinking: thinking, effort: effort, tools: nil, body: body, repeats: repeats)
        }
        // Out of line, so that a request without tools runs none of this.
        var messages = chat.turns
        guard let tools = layOutTools(chat, body: body, repeats: repeats, in: &messages) else { return nil }
        return countLaidOut(messages, thinking: thinking, effort: effort, tools: tools, body: body, repeats: repeats)
    }

    /// A lone user turn of plain ASCII text at the default effort, the shape of most short
    /// requests: the text's count and the markers around it, without running the layout (less
    /// code to fetch cold on every request: docs/BENCHMARKS-JOURNAL.md, "Nineteenth session"). Nil for
    /// anything else.
    func countLoneUserTurn(_ chat: ChatTurns, thinking: Bool, body: UnsafeRawBufferPointer) -> PromptCount? {
        guard chat.turns.count == 1, chat.tools == nil, !thinking || chat.reasoningEffort == nil,
            let around = markers.aroundLoneUserTurn
        else { return nil }
        let turn = chat.turns[0]
        guard turn.role == .user, let text = turn.content, text.form == .plain else { return nil }
        let bytes = UnsafeBufferPointer(rebasing: body.assumingMemoryBound(to: UInt8.self)[text.range])
        guard let tokens = tokenizer.countPlainASCII(bytes) else { return nil }
        return PromptCount(tokens: (thinking ? around.thinking : around.chat) + tokens, exact: true)
    }

    private func countLaidOut(
        _ messages: [ChatTurns.Turn], thinking: Bool, effort: ChatRenderer.Effort, tools: ToolLayout?,
        body: UnsafeRawBufferPointer, repeats: RepeatedTextCounts.Scoped?
    ) -> PromptCount? {
        let bytes = body.assumingMemoryBound(to: UInt8.self)
        // Consecutive user and tool messages form one turn (`merge_tool_messages`): the first
        // opens it with the User marker, the others follow a blank line, and the turn's last one
        // is followed by the Assistant opener when an assistant turn (or the end) comes next.
        // Reasoning before the last user turn is dropped, and only openers from that turn on are
        // <think>; with tool schemas nothing is dropped and every opener is <think>
        // (`dropThinking` off), as if no turn came before the last user one.
        let lastUser = tools?.schemasAt != nil ? -1 : messages.lastIndex { $0.role == .user || $0.role == .tool || $0.role == .developer } ?? -1
        // The pending text never outgrows the body (decoded escapes, and text parts joined by
        // newlines, are shorter than written) plus what the layout adds: BOS, the effort preamble,
        // the tools' blocks, and per message (``LayoutMarkers/perMessage``).
        let capacity = bytes.count + max(markers.effortHigh.count, markers.effortMax.count) + (tools?.addedBytes ?? 0)
            + (messages.count + 1) * markers.perMessage
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { pending in
            var out = LayoutCounter(tokenizer: tokenizer, repeats: repeats, body: bytes, pending: pending)
            lay(messages, thinking: thinking, effort: effort, lastUser: lastUser, tools: tools, into: &out)
            // The encoder refuses it: the general path says so in its estimate reasons.
            if out.keptEmptyDeveloper { return nil }
            out.flush()
            guard let tools, !tools.reasons.isEmpty else { return PromptCount(tokens: out.count, exact: true) }
            return PromptCount(tokens: out.count, exact: false, estimateReasons: tools.reasons)
        }
    }

    /// What tools add to the layout: the schemas' block (`\n\n## Tools…`, after the text of the
    /// first system message or of a system message put first for it) and each assistant turn's
    /// rendered tool calls. A class: passed as one optional reference, it costs a request without
    /// tools no copying code.
    ///
    /// Tool results are laid out as sent. The general path sorts them by their calls' order
    /// (`sort_tool_results_by_call_order`), but that moves whole `<tool_result>…</tool_result>`
    /// blocks: each result's text sits between the same tags wherever it goes, and no
    /// pre-tokenizer piece reaches past a tag's letters into the next one, so the count is the same.
    private final class ToolLayout {
        var schemasAt: Int?
        var schemas: [UInt8] = []
        /// The DSML block of each assistant turn with tool calls, by message index.
        var calls: [Int: [UInt8]] = [:]
        /// What rendering approximated (extra function fields, arguments that are not an object),
        /// as the general path says.
        var reasons: [String] = []
        /// Bytes the blocks above add to the prompt.
        var addedBytes = 0

        /// Adds a list's reasons, each once, in the order the general renderer would give them.
        func add(_ listReasons: [String]) {
            for reason in listReasons where !reasons.contains(reason) { reasons.append(reason) }
        }
    }

    /// Renders the schemas and the tool calls with the general renderer's own code (or takes the
    /// renderings of lists sent before from `repeats`), and picks or inserts the system message
    /// that carries the schemas.
    @inline(never)
    private func layOutTools(
        _ chat: ChatTurns, body: UnsafeRawBufferPointer, repeats: RepeatedTextCounts.Scoped?, in messages: inout [ChatTurns.Turn]
    ) -> ToolLayout? {
        let layout = ToolLayout()
        // Without a system message, one is put first for the schemas: every turn moves up by one.
        let systemPutFirst = chat.tools != nil && !messages.contains { $0.role == .system }
        // Calls render before schemas so that estimate reasons come in the general path's order.
        for (turn, list) in chat.toolCalls {
            let rendering = Self.render(.toolCalls, UnsafeRawBufferPointer(rebasing: body[list]), through: repeats) { renderer, raw in
                guard let calls = (try? JSONValue.parse(raw))?.arrayValue else { return nil }
                return Array(ChatRenderer.toolCallsText(renderer.toolCalls(calls)).utf8)
            }
            guard let rendering else { return nil }
            layout.calls[systemPutFirst ? turn + 1 : turn] = rendering.bytes
            layout.addedBytes += rendering.bytes.count
            layout.add(rendering.reasons)
        }
        if let tools = chat.tools {
            let rendering = Self.render(.toolSchemas, UnsafeRawBufferPointer(rebasing: body[tools]), through: repeats) { renderer, raw in
                guard let list = (try? JSONValue.parse(raw))?.arrayValue else { return nil }
                return Array(("\n\n" + ChatRenderer.toolsText(list.map { renderer.functionSchema($0) })).utf8)
            }
            guard let rendering else { return nil }
            layout.schemas = rendering.bytes
            layout.addedBytes += layout.schemas.count
            layout.add(rendering.reasons)
            if systemPutFirst { messages.insert(ChatTurns.Turn(role: .system, content: nil, reasoning: nil), at: 0) }
            layout.schemasAt = messages.firstIndex { $0.role == .system }
        }
        return layout
    }

    /// One tool list rendered by a renderer of its own, so that what it approximated travels with
    /// the rendering when `repeats` keeps it.
    private static func render(
        _ kind: RepeatedTextCounts.ListKind, _ raw: UnsafeRawBufferPointer, through repeats: RepeatedTextCounts.Scoped?,
        _ body: (inout ChatRenderer, UnsafeRawBufferPointer) -> [UInt8]?
    ) -> RepeatedTextCounts.Rendering? {
        func make() -> RepeatedTextCounts.Rendering? {
            var renderer = ChatRenderer()
            guard let bytes = body(&renderer, raw) else { return nil }
            return RepeatedTextCounts.Rendering(bytes: bytes, reasons: renderer.reasons)
        }
        guard let repeats else { return make() }
        return repeats.rendering(of: raw, kind: kind, make)
    }

    /// Whether the effort preamble can be counted on its own (its count is known) rather than
    /// with the text after it. It ends in `.\n\n`, a piece the pre-tokenizer closes before any
    /// character but CR or LF, and no added token runs past its end (checked at load); so it
    /// stands alone before a clean marker, or before system text that starts with neither.
    private func preambleStandsAlone(
        before first: ChatTurns.Turn, then next: ChatTurns.Role?, toolsFollow: Bool, in body: UnsafeBufferPointer<UInt8>
    ) -> Bool {
        guard markers.preamblesEndCleanly else { return false }
        switch first.role {
        case .user, .tool, .developer:
            return markers.user.splitsCleanly
        case .system:
            // Given as parts: counted with the preamble (always exact, and rare).
            if first.content?.form == .parts { return false }
            if let text = first.content, let lead = text.range.first.map({ body[$0] }) {
                return lead != UInt8(ascii: "\n") && lead != UInt8(ascii: "\r") && lead != UInt8(ascii: "\\")
            }
            // Empty: the tools block follows (it starts with a blank line), or the next turn's
            // marker or the opener, unless more system text does.
            return !toolsFollow && next != .system && markers.user.splitsCleanly && markers.assistant.splitsCleanly
        case .assistant:
            return false
        }
    }

    private func lay(
        _ messages: [ChatTurns.Turn], thinking: Bool, effort: ChatRenderer.Effort, lastUser: Int, tools: ToolLayout?,
        into out: inout LayoutCounter
    ) {
        // In thinking mode without schemas (with them `lastUser` is -1) the encoder drops developer
        // messages before the last user turn (`_drop_thinking_messages`), after merging turns: a
        // dropped one still keeps the user turns on either side apart, but is no one's neighbour
        // otherwise.
        let dropsDevelopers = thinking && lastUser >= 0
        func dropped(_ index: Int) -> Bool {
            dropsDevelopers && index < lastUser && messages[index].role == .developer
        }
        out.marker(markers.bos)
        var first = true
        for (index, message) in messages.enumerated() where !dropped(index) {
            var following = index + 1
            while following < messages.count && dropped(following) { following += 1 }
            let next = following < messages.count ? messages[following].role : nil
            if first && thinking && effort != .low {
                let high = effort == .high
                if preambleStandsAlone(before: message, then: next, toolsFollow: tools?.schemasAt == 0, in: out.body) {
                    out.counted(high ? markers.effortHighTokens : markers.effortMaxTokens)
                } else {
                    out.append(high ? markers.effortHigh : markers.effortMax)
                }
            }
            first = false
            switch message.role {
            case .system:
                out.text(message.content)
                if let tools, index == tools.schemasAt { out.append(tools.schemas) }
            case .user, .tool:
                if index > 0 && (messages[index - 1].role == .user || messages[index - 1].role == .tool) {
                    out.append(markers.blockSeparator)
                } else {
                    out.marker(markers.user)
                }
                if message.role == .tool { out.append(markers.toolResultOpen) }
                out.text(message.content)
                if message.role == .tool { out.append(markers.toolResultClose) }
            case .developer:
                out.marker(markers.user)
                let before = out.written
                out.text(message.content)
                if out.written == before { out.keptEmptyDeveloper = true }
            case .assistant:
                // Reasoning of turns before the last user turn is dropped (none is, with schemas).
                if thinking && index > lastUser {
                    out.text(message.reasoning)
                    out.marker(markers.thinkEnd)
                }
                out.text(message.content)
                if let calls = tools?.calls[index] { out.toolCalls(calls) }
                out.marker(markers.eos)
            }
            // A user, developer or system turn that is last or followed by an assistant opens generation.
            if message.role != .assistant && (next == nil || next == .assistant) {
                out.marker(markers.assistant)
                out.marker(thinking && index >= lastUser ? markers.thinkStart : markers.thinkEnd)
            }
        }
    }
}

/// Counts a prompt given as a sequence of texts and markers: text accumulates until a marker that
/// splits cleanly, then is counted in one tokenizer pass.
///
/// Its steps are kept out of line: ``ChatPromptCounter/lay`` calls them from many places, and one
/// copy of each is fewer cold code lines for a short request than a copy inlined at every call.
private struct LayoutCounter {
    let tokenizer: DeepSeekTokenizer
    let repeats: RepeatedTextCounts.Scoped?
    let body: UnsafeBufferPointer<UInt8>
    let pending: UnsafeMutableBufferPointer<UInt8>
    private var length = 0
    /// Bytes appended in all, flushed or pending.
    private(set) var written = 0
    /// A developer turn without text was laid out: vLLM's encoder refuses the request.
    var keptEmptyDeveloper = false
    /// Whether the pending text holds rendered tool calls (see ``toolCalls(_:)``).
    private var holdsToolCalls = false
    private(set) var count = 0

    init(
        tokenizer: DeepSeekTokenizer, repeats: RepeatedTextCounts.Scoped?, body: UnsafeBufferPointer<UInt8>,
        pending: UnsafeMutableBufferPointer<UInt8>
    ) {
        self.tokenizer = tokenizer
        self.repeats = repeats
        self.body = body
        self.pending = pending
    }

    @inline(never) mutating func marker(_ marker: LayoutMarkers.Marker) {
        guard marker.splitsCleanly else { return append(marker.bytes) }
        flush()
        count += 1
    }

    mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    /// An assistant turn's rendered tool calls. The text they end up in is looked up in the table
    /// of repeated texts however short it is: agents send every call back with each turn.
    @inline(never) mutating func toolCalls(_ bytes: [UInt8]) {
        append(bytes)
        holdsToolCalls = true
    }

    /// Text whose token count is already known, standing alone.
    @inline(never) mutating func counted(_ tokens: Int) {
        flush()
        count += tokens
    }

    private mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        precondition(length + bytes.count <= pending.count, "layout buffer too small")
        UnsafeMutableRawPointer(pending.baseAddress! + length).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        length += bytes.count
        written += bytes.count
    }

    /// A text of the request body, decoded (escapes by the scanner `JSONValue` uses, so both
    /// paths decode alike).
    @inline(never) mutating func text(_ text: ChatTurns.Text?) {
        guard let text, !text.range.isEmpty else { return }
        switch text.form {
        case .plain: append(UnsafeBufferPointer(rebasing: body[text.range]))
        case .escaped: decode(text.range)
        case .parts: parts(text.range)
        }
    }

    private mutating func decode(_ range: Range<Int>) {
        var scanner = JSONScanner(body)
        scanner.position = range.lowerBound - 1  // the opening quote
        guard (try? scanner.scanString()) != nil else { preconditionFailure("the routing parse checked this string") }
        scanner.stringBuffer.withUnsafeBufferPointer { append($0) }
    }

    private static let newline: [UInt8] = [UInt8(ascii: "\n")]

    /// Content given as text parts (checked by the routing parse): their texts joined by newlines.
    @inline(never) private mutating func parts(_ range: Range<Int>) {
        var list = TollgateWire.JSONScanner(UnsafeRawBufferPointer(body), offset: range.lowerBound)
        var first = true
        let walked = try? ChatTurns.walkTextParts(&list) { part in
            if !first { append(Self.newline) }
            first = false
            text(part)
        }
        precondition(walked?.allText == true, "the routing parse checked these parts")
    }

    @inline(never) mutating func flush() {
        guard length > 0 else { return }
        let text = UnsafeBufferPointer(rebasing: pending[0..<length])
        if let repeats {
            count += repeats.tokens(of: text, tokenizer, evenIfShort: holdsToolCalls)
            holdsToolCalls = false  // read only with a table: a short request has none
        } else {
            count += tokenizer.count(validUTF8: text)
        }
        length = 0
    }
}
