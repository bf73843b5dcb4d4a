import TollgateLedger
import TollgateRouting

/// Who sent a request: a team key from the configuration file, or one from the ledger database.
struct Caller: Sendable {
    var team: String
    /// The ledger's key (ids, limits, budgets); nil for keys from the configuration file.
    var ledgerKey: CachedKey?
    private var allowedModels: Set<String>?

    init(configKey: TeamKey) {
        team = configKey.team
        allowedModels = configKey.allowedModels
    }

    init(ledgerKey: CachedKey) {
        team = ledgerKey.teamName
        self.ledgerKey = ledgerKey
        allowedModels = nil
    }

    func allows(model: String) -> Bool {
        if let ledgerKey { return ledgerKey.allows(model: model) }
        return allowedModels?.contains(model) ?? true
    }
}
