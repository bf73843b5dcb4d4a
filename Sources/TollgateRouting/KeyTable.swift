import Crypto

/// Team keys known from configuration, looked up by the SHA-256 of the presented key.
///
/// The table holds only hashes. Lookup hashes the presented key, finds the candidate by its
/// digest and confirms it with a constant-time comparison, so timing says nothing about how much
/// of a key was right.
public struct KeyTable: Sendable {
    private var byHash: [[UInt8]: TeamKey] = [:]

    public init(_ keys: [TeamKey]) {
        for key in keys { byHash[key.keyHash] = key }
    }

    public var isEmpty: Bool { byHash.isEmpty }

    /// The team for a bearer key, or nil.
    public func authenticate(bearer key: Substring) -> TeamKey? {
        let digest = Array(SHA256.hash(data: Array(key.utf8)))
        guard let candidate = byHash[digest] else { return nil }
        return constantTimeEqual(candidate.keyHash, digest) ? candidate : nil
    }
}

/// Compares two byte strings in time that depends only on their length.
public func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}
