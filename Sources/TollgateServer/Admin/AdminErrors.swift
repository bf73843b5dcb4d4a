import TollgateConfig
import TollgateLedger
import TollgateWire

/// The admin API's errors: OpenAI-style envelopes with stable codes.
extension GatewayError {
    static let adminAPIDisabled = GatewayError(
        status: 404, type: "invalid_request_error", code: "admin_api_disabled",
        message: "The admin API is disabled: start the gateway with TOLLGATE_ADMIN_TOKEN set.")

    static let adminNeedsDatabase = GatewayError(
        status: 404, type: "invalid_request_error", code: "admin_api_needs_database",
        message: "The admin API manages keys, budgets and reports in PostgreSQL; this gateway runs without a database.")

    static let invalidAdminToken = GatewayError(
        status: 401, type: "authentication_error", code: "invalid_admin_token",
        message: "The admin API needs 'Authorization: Bearer <TOLLGATE_ADMIN_TOKEN>'. Team keys are not accepted.")

    static let usageReportsNeedDatabase = GatewayError(
        status: 404, type: "invalid_request_error", code: "usage_reports_unavailable",
        message: "Usage reports need the ledger database; this gateway runs without one.")

    static let otherTeamsReport = GatewayError(
        status: 403, type: "permission_error", code: "team_not_allowed",
        message: "A team key can read its own team's usage only; leave out 'team' or name your own team.",
        param: "team")

    static let noPriceBook = GatewayError(
        status: 404, type: "invalid_request_error", code: "price_book_not_configured",
        message: "This gateway runs without a price book (pricing.price_book is not set).")

    /// A reload the gateway refused; the message names the file, the line and the reason.
    static func invalidPriceBook(_ error: ConfigError) -> GatewayError {
        GatewayError(
            status: 422, type: "invalid_request_error", code: "invalid_price_book",
            message: "The price book was refused and the running one stays: \(error)")
    }

    static func adminNotFound(_ what: String) -> GatewayError {
        GatewayError(status: 404, type: "invalid_request_error", code: "not_found", message: what)
    }

    static let adminInternal = GatewayError(
        status: 500, type: "server_error", code: "internal_error", message: "The admin request failed; see the gateway log.")

    static let databaseFailed = GatewayError(
        status: 503, type: "server_error", code: "database_error",
        message: "The ledger database failed this request; see the gateway log. Retry later.")

    static let databaseUnavailable = GatewayError(
        status: 503, type: "server_error", code: "database_unavailable",
        message: "The ledger database cannot be reached right now. Retry later.")

    /// The envelope for an error thrown by the ledger or by PostgreSQL.
    static func admin(_ error: any Error) -> GatewayError {
        switch error {
        case let error as GatewayError:
            return error
        case let error as LedgerError:
            switch error.code {
            case .notFound: return .adminNotFound(error.message)
            case .invalidArgument: return .invalidRequest(error.message)
            case .mixedCurrencies:
                return GatewayError(status: 409, type: "invalid_request_error", code: error.code.rawValue, message: error.message)
            case .databaseUnavailable: return .databaseUnavailable
            case .schemaBehind, .unknownMigration, .migrationFailed, .migrationChecksumMismatch:
                return GatewayError(status: 503, type: "server_error", code: error.code.rawValue, message: error.message)
            default: return .adminInternal
            }
        default:
            // Everything else an admin operation throws comes from PostgreSQL (a lost connection,
            // a timeout): retryable from the caller's side.
            return .databaseFailed
        }
    }
}
