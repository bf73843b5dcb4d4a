import Foundation

/// The admin API's OpenAPI 3.1 document, served at `GET /admin/openapi.json`: the file
/// `openapi-admin.json` beside this one, shipped as the module's resource so there is one copy.
enum AdminOpenAPI {
    static let document: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi-admin", withExtension: "json"),
            let data = try? Data(contentsOf: url)
        else {
            // Only a broken install lacks the resource; say so rather than serve nothing.
            return Array(#"{"error":{"message":"openapi-admin.json is missing from this build","type":"server_error","param":null,"code":"openapi_missing"}}"#.utf8)
        }
        return Array(data)
    }()
}
