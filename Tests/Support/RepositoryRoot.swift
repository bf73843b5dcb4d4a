import Foundation

/// The checkout's root folder, for tests that read the files the project ships (the price book,
/// the example configuration, the admin API's OpenAPI document).
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
