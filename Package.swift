// swift-tools-version:6.1
import PackageDescription

/// One settings list for every target: Swift 6 language mode with strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "flotilla",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flotilla", targets: ["flotilla"]),
        .library(name: "KubeEmulator", targets: ["KubeEmulator"]),
        .library(name: "KubeModel", targets: ["KubeModel"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "KubeRuntime", targets: ["KubeRuntime"]),
        .library(name: "GitSource", targets: ["GitSource"]),
        .library(name: "Manifests", targets: ["Manifests"]),
        .library(name: "Sync", targets: ["Sync"]),
        .library(name: "Operator", targets: ["Operator"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-ssh.git", from: "0.15.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CLibGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(
            name: "GitSource",
            dependencies: [
                "CLibGit2",
                "CSupport",
                "Primitives",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSH", package: "swift-nio-ssh"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "CSupport"),
        .target(
            name: "Primitives",
            dependencies: [
                "CSupport",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "GitTesting",
            dependencies: [
                "ImageAutomation",
                "KubeModel",
                "Manifests",
                "Primitives",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Manifests",
            dependencies: [
                "GitSource",
                "KubeModel",
                "Primitives",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Sync",
            dependencies: [
                "FlotillaAPI",
                "KubeClient",
                "KubeModel",
                "Manifests",
                "Primitives",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Operator",
            dependencies: [
                "CSupport",
                "FlotillaAPI",
                "GitSource",
                "ImageAutomation",
                "KubeClient",
                "KubeModel",
                "KubeRuntime",
                "Manifests",
                "Primitives",
                "Sync",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "ImageAutomation",
            dependencies: [
                "KubeClient",
                "KubeModel",
                "Primitives",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeModel",
            dependencies: [
                "CYAML",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FlotillaAPI",
            dependencies: [
                "KubeModel",
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeEmulator",
            dependencies: [
                "KubeModel",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeClient",
            dependencies: [
                "KubeModel",
                "Primitives",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeRuntime",
            dependencies: [
                "KubeClient",
                "KubeModel",
                "Primitives",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Dashboard",
            dependencies: [
                "FlotillaAPI",
                "KubeClient",
                "KubeModel",
                "KubeRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "KubeTesting",
            dependencies: [
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "flotilla",
            dependencies: [
                "CSupport",
                "Dashboard",
                "FlotillaAPI",
                "GitSource",
                "ImageAutomation",
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeRuntime",
                "Manifests",
                "Operator",
                "Primitives",
                "Sync",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "flotilla-bench",
            dependencies: [
                "CSupport",
                "Dashboard",
                "FlotillaAPI",
                "GitSource",
                "GitTesting",
                "ImageAutomation",
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeRuntime",
                "KubeTesting",
                "Manifests",
                "Operator",
                "Primitives",
                "Sync",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard",
                "FlotillaAPI",
                "KubeModel",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PrimitivesTests",
            dependencies: [
                "Primitives",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeModelTests",
            dependencies: [
                "KubeModel",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GitSourceTests",
            dependencies: [
                "CLibGit2",
                "GitSource",
                "GitTesting",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ManifestsTests",
            dependencies: [
                "GitSource",
                "GitTesting",
                "KubeModel",
                "Manifests",
                "Primitives",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OperatorTests",
            dependencies: [
                "FlotillaAPI",
                "GitSource",
                "GitTesting",
                "ImageAutomation",
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeTesting",
                "Manifests",
                "Operator",
                "Sync",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ReliabilityTests",
            dependencies: [
                "FlotillaAPI",
                "GitSource",
                "GitTesting",
                "ImageAutomation",
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeTesting",
                "Manifests",
                "Operator",
                "Sync",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SyncTests",
            dependencies: [
                "FlotillaAPI",
                "GitSource",
                "GitTesting",
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeTesting",
                "Manifests",
                "Primitives",
                "Sync",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ImageAutomationTests",
            dependencies: [
                "GitTesting",
                "ImageAutomation",
                "KubeModel",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FlotillaAPITests",
            dependencies: [
                "FlotillaAPI",
                "KubeModel",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeClientTests",
            dependencies: [
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeTesting",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeRuntimeTests",
            dependencies: [
                "KubeClient",
                "KubeEmulator",
                "KubeModel",
                "KubeRuntime",
                "KubeTesting",
                "Primitives",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeEmulatorTests",
            dependencies: [
                "KubeEmulator",
                "KubeModel",
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
    ]
)
