import Foundation
import TollgateLedger
import TollgateRouting

/// The administrator's bearer token (`TOLLGATE_ADMIN_TOKEN`), kept only as its SHA-256.
///
/// Checked by comparing digests in constant time, so neither the token's content nor its length
/// leaks through timing. Team keys are never looked at here: a team key is not an admin token,
/// whatever team it belongs to.
struct AdminToken: Sendable {
    private let digest: [UInt8]

    /// Nil for a missing or blank token: the admin API then stays disabled.
    init?(_ token: String?) {
        guard let token, !token.trimmingCharacters(in: .whitespaces).isEmpty else { return nil }
        digest = KeyDigest(plaintext: token).bytes
    }

    /// Whether `presented` is the admin token.
    func matches(_ presented: Substring) -> Bool {
        constantTimeEqual(KeyDigest(plaintext: presented).bytes, digest)
    }
}
