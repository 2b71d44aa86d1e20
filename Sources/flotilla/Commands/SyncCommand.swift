import ArgumentParser
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// `flotilla sync`: ask an instance to sync now and wait until it has (Flux v1's `fluxctl sync`).
/// The request is an annotation on the FluxInstance, written as the caller: whoever may patch
/// the FluxInstance may ask it to sync, and nobody else.
struct SyncCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sync", abstract: "Sync an instance now and wait until its head revision is applied.")

    @OptionGroup var options: ClientOptions
    @Option(name: [.short, .customLong("instance")], help: "The FluxInstance.") var instance: String
    @Option(help: "Give up after this long (e.g. 30s, 2m).") var timeout = "2m"
    @Flag(help: "Also wait until what the revision applied is healthy (rolled out, complete, bound, ready).") var waitHealth = false

    func run() async throws {
        guard let limit = DurationParser.parse(timeout), limit > .zero else { throw ValidationError("--timeout: \"\(timeout)\" is not a duration such as 30s or 2m") }
        let requester = try options.requester(instance)
        try await using(requester.client) { _ in
            let target = requester.target
            let requestedAt = Date()
            do {
                _ = try await requester.client.patch(FluxInstance.resourceType, name: instance, namespace: requester.namespace,
                                                     Flotilla.reconcileRequest(at: requestedAt))
            } catch let error as KubeError {
                if error.code == 403 { throw CLIError("you may not ask \(target) to sync: \(error.message)") }
                if error.isNotFound { throw CLIError("\(target) not found") }
                throw CLIError("cannot ask \(target) to sync: \(error)")
            }
            print("Sync requested for \(target); waiting for the head revision to be applied…")
            try await requester.waitApplied(nil, since: requestedAt, timeout: limit, health: waitHealth)
        }
    }
}

/// `flotilla identity`: the public deploy key to add to the git host (never the private key).
struct IdentityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "identity", abstract: "Print the instance's public deploy key (to add to the git host).")

    @OptionGroup var options: ClientOptions
    @Option(name: [.short, .customLong("instance")], help: "The FluxInstance.") var instance: String
    @Flag(help: "Replace the instance's deploy key with a new one (the old one stops working); prints the new public key.")
    var regenerate = false
    @Option(help: "With --regenerate: how long to wait for the instance's answer.") var timeout = "2m"

    func run() async throws {
        if regenerate { return try await regenerateKey() }
        let (client, namespace) = try options.client()
        try await using(client) { client in
            let target = "FluxInstance \(namespace)/\(instance)"
            let object: FluxInstance
            do { object = try await client.get(FluxInstance.self, name: instance, namespace: namespace) } catch let error as KubeError {
                if error.code == 403 { throw CLIError("you may not read \(target): \(error.message)") }
                if error.isNotFound { throw CLIError("\(target) not found") }
                throw CLIError("cannot read \(target): \(error)")
            }
            guard let key = object.status?.identity?.publicKey, !key.isEmpty else {
                throw CLIError("\(target) has no deploy key yet: its git URL is not SSH, or its Secret holds no identity, or the operator has not reconciled it")
            }
            show(key, gitHost: object.status?.identity?.gitHost)
        }
    }

    func regenerateKey() async throws {
        guard let limit = DurationParser.parse(timeout), limit > .zero else { throw ValidationError("--timeout: \"\(timeout)\" is not a duration such as 30s or 2m") }
        let requester = try options.requester(instance)
        try await using(requester.client) { _ in
            var ask = InstanceRequest(action: .regenerateIdentity)
            ask.user = await requester.caller(nil)
            let answer = try await requester.send(ask, verb: "regenerate the deploy key of", timeout: limit)
            guard let key = answer.result?["publicKey"]?.stringValue else { throw CLIError("the instance answered without a key: \(answer.message)") }
            if options.output == .table { FileHandle.standardError.write(Data((Release.capitalised(answer.message) + "\n").utf8)) }
            let host = try? await requester.client.get(FluxInstance.self, name: instance, namespace: requester.namespace).status?.identity?.gitHost
            show(key, gitHost: host ?? nil)
        }
    }

    func show(_ key: String, gitHost: String?) {
        switch options.output {
        case .json:
            print(ListInstances.pretty(["publicKey": .string(key), "gitHost": gitHost.map(JSONValue.string) ?? .null]))
        case .yaml:
            print(YAMLWriter.write(["publicKey": .string(key), "gitHost": gitHost.map(JSONValue.string) ?? .null]), terminator: "")
        case .table:
            print(key)
        }
    }
}
