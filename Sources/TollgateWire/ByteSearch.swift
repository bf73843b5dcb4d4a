#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Substring search over raw bytes (memchr for the first byte, memcmp for the rest): fast enough
/// to run on every stream chunk, which is why chunks are only decoded when a search hits.
public enum ByteSearch {
    public static func find(_ needle: StaticString, in haystack: UnsafeRawBufferPointer, from start: Int = 0) -> Int? {
        let length = needle.utf8CodeUnitCount
        guard length > 0, let base = haystack.baseAddress else { return nil }
        let first = Int32(needle.utf8Start.pointee)
        var index = start
        while haystack.count - index >= length {
            guard let hit = memchr(base + index, first, haystack.count - index - length + 1) else { return nil }
            let at = base.distance(to: UnsafeRawPointer(hit))
            if memcmp(base + at, needle.utf8Start, length) == 0 { return at }
            index = at + 1
        }
        return nil
    }
}
