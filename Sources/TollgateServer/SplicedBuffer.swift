import NIOCore
import TollgateWire

extension ByteBufferAllocator {
    /// A buffer holding `bytes` with sorted, non-overlapping `splices` applied, written in one pass
    /// (no intermediate array: bodies are rewritten on every priced request).
    func spliced(_ bytes: UnsafeRawBufferPointer, _ splices: [Splice]) -> ByteBuffer {
        var buffer = self.buffer(capacity: bytes.count + splices.reduce(0) { $0 + $1.replacement.count })
        var cursor = 0
        for splice in splices {
            buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[cursor..<splice.range.lowerBound]))
            buffer.writeBytes(splice.replacement)
            cursor = splice.range.upperBound
        }
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[cursor...]))
        return buffer
    }
}
