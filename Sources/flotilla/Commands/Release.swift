import ArgumentParser
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// `flotilla release`: change workloads' images in git, committed and pushed by the instance
/// (Flux v1's `fluxctl release`); `--watch` waits until the commit is applied.
struct Release: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "release", abstract: "Update workloads' images in git (committed by the instance), optionally wait until applied.",
        discussion: "Example: flotilla release -i apps --workload default:deployment/web --update-image registry.example/web:1.2.3 --watch")

    @OptionGroup var options: ClientOptions
    @OptionGroup var request: InstanceRequestOptions
    @Option(name: [.short, .customLong("workload")], help: "A workload to release (NAMESPACE:KIND/NAME); repeatable.") var workload: [String] = []
    @Flag(help: "Release every workload of the instance.") var all = false
    @Option(help: "The image to move to (IMAGE:TAG): containers running IMAGE at another tag.") var updateImage: String?
    @Flag(help: "Move each container to the newest tag its filter allows.") var updateAllImages = false
    @Option(help: "A workload to leave out; repeatable.") var exclude: [String] = []
    @Flag(help: "Release locked workloads too.") var force = false
    @Flag(help: "Show the change; commit nothing.") var dryRun = false
    @Flag(help: "Wait until the commit is applied to the cluster.") var watch = false
    @Flag(help: "With --watch: wait until what the commit applied is healthy (rolled out, complete, bound, ready).") var waitHealth = false
    @Option(name: [.short, .customLong("message")], help: "Why (goes into the commit message).") var message: String?

    func validate() throws {
        guard (updateImage != nil) != updateAllImages else { throw ValidationError("give one of --update-image IMAGE:TAG and --update-all-images") }
        guard all != !workload.isEmpty else { throw ValidationError("give --workload NAMESPACE:KIND/NAME (repeatable) or --all") }
    }

    func run() async throws {
        let requester = try options.requester(request.instance)
        try await using(requester.client) { _ in
            var ask = InstanceRequest(action: .release)
            ask.workloads = workload.isEmpty ? nil : workload
            ask.all = all ? true : nil
            ask.image = updateImage
            ask.allImages = updateAllImages ? true : nil
            ask.exclude = exclude.isEmpty ? nil : exclude
            ask.force = force ? true : nil
            ask.dryRun = dryRun ? true : nil
            ask.message = message
            ask.user = await requester.caller(request.user)
            let headBefore = watch ? await requester.headRevision() : nil
            let started = Date()
            let answer = try await requester.send(ask, verb: "release with", timeout: try request.limit())
            if options.output != .table {
                options.emit(Self.summary(answer))
            } else {
                let changes = answer.changes ?? []
                if !changes.isEmpty {
                    var table = [["WORKLOAD", "CONTAINER", "FROM", "TO"]]
                    for c in changes { table.append([c.workload, c.container, c.from, c.to]) }
                    print(ListInstances.format(table), terminator: "")
                }
                for s in answer.skipped ?? [] { print("skipped \(s)") }
                print(answer.revision.map { "Commit \($0.prefix(7)) pushed." } ?? Self.capitalised(answer.message))
            }
            if watch, let revision = answer.revision, !dryRun {
                try await requester.waitApplied(revision, since: started, timeout: try request.limit(), health: waitHealth, headBefore: headBefore)
            }
        }
    }

    static func capitalised(_ s: String) -> String { s.prefix(1).uppercased() + s.dropFirst() }

    /// What `-o json` prints: the answer without its bookkeeping.
    static func summary(_ answer: RequestResult) -> JSONValue {
        var out: [String: JSONValue] = ["message": .string(answer.message), "dryRun": .bool(answer.dryRun == true),
                                        "revision": answer.revision.map(JSONValue.string) ?? .null,
                                        "changes": .array((answer.changes ?? []).map { ["workload": .string($0.workload), "container": .string($0.container),
                                                                                          "from": .string($0.from), "to": .string($0.to)] }),
                                        "skipped": .array((answer.skipped ?? []).map(JSONValue.string))]
        if let result = answer.result { out["result"] = result }
        return .object(out)
    }
}

/// `flotilla policy` and its shortcuts `automate`, `deautomate`, `lock`, `unlock`: change a
/// workload's Flux v1 policy annotations in its file in git (committed by the instance).
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "policy", abstract: "Change a workload's automation, lock and tag filters in git.")

    @OptionGroup var options: ClientOptions
    @OptionGroup var request: InstanceRequestOptions
    @Option(name: [.short, .customLong("workload")], help: "The workload (NAMESPACE:KIND/NAME).") var workload: String
    @Flag(help: "Automate image updates.") var automate = false
    @Flag(help: "Stop automating.") var deautomate = false
    @Flag(help: "Lock (no automated or manual release without --force).") var lock = false
    @Flag(help: "Unlock.") var unlock = false
    @Option(help: "CONTAINER=FILTER (semver:~1, glob:v*, regex:…; * clears); repeatable.") var tag: [String] = []
    @Option(help: "FILTER for every container.") var tagAll: String?
    @Flag(help: "Show the change; commit nothing.") var dryRun = false
    @Option(name: [.short, .customLong("message")], help: "Why (the lock message; goes into the commit message).") var message: String?

    func validate() throws {
        guard !(automate && deautomate), !(lock && unlock) else { throw ValidationError("choose one of --automate/--deautomate and of --lock/--unlock") }
        guard automate || deautomate || lock || unlock || !tag.isEmpty || tagAll != nil else {
            throw ValidationError("nothing to change: give --automate, --deautomate, --lock, --unlock, --tag or --tag-all")
        }
        for t in tag where !t.contains("=") { throw ValidationError("--tag \(t): write CONTAINER=FILTER") }
    }

    func run() async throws {
        var tags: [String: String] = [:]
        for t in tag {
            let parts = t.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            tags[String(parts[0])] = String(parts[1])
        }
        if let tagAll { tags["*"] = tagAll }
        try await PolicyCommand.send(options: options, request: request, workload: workload, dryRun: dryRun, message: message,
                                     automate: automate ? true : deautomate ? false : nil, lock: lock ? true : unlock ? false : nil, tags: tags)
    }

    static func send(options: ClientOptions, request: InstanceRequestOptions, workload: String, dryRun: Bool, message: String?,
                     automate: Bool?, lock: Bool?, tags: [String: String]) async throws {
        let requester = try options.requester(request.instance)
        try await using(requester.client) { _ in
            var ask = InstanceRequest(action: .policy)
            ask.workloads = [workload]
            ask.automate = automate
            ask.lock = lock
            ask.tags = tags.isEmpty ? nil : tags
            ask.dryRun = dryRun ? true : nil
            ask.message = message
            ask.user = await requester.caller(request.user)
            let answer = try await requester.send(ask, verb: "change the policy of workloads of", timeout: try request.limit())
            if options.output != .table { return options.emit(Release.summary(answer)) }
            for (id, changes) in (answer.result?["annotations"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                for (key, value) in (changes.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    print("\(id): " + (value == .null ? "remove \(key)" : "\(key): \(value.jsonString())"))
                }
            }
            print(answer.revision.map { "Commit \($0.prefix(7)) pushed." } ?? Release.capitalised(answer.message))
        }
    }
}

/// The policy shortcuts, as fluxctl had them.
struct PolicyShortcut: ParsableArguments {
    @OptionGroup var options: ClientOptions
    @OptionGroup var request: InstanceRequestOptions
    @Option(name: [.short, .customLong("workload")], help: "The workload (NAMESPACE:KIND/NAME).") var workload: String
    @Option(name: [.short, .customLong("message")], help: "Why (the lock message; goes into the commit message).") var message: String?
    @Flag(help: "Show the change; commit nothing.") var dryRun = false

    func send(automate: Bool? = nil, lock: Bool? = nil) async throws {
        try await PolicyCommand.send(options: options, request: request, workload: workload, dryRun: dryRun, message: message,
                                     automate: automate, lock: lock, tags: [:])
    }
}

struct Automate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "automate", abstract: "Turn on automated image updates for a workload (in git).")
    @OptionGroup var shortcut: PolicyShortcut
    func run() async throws { try await shortcut.send(automate: true) }
}

struct Deautomate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "deautomate", abstract: "Turn off automated image updates for a workload (in git).")
    @OptionGroup var shortcut: PolicyShortcut
    func run() async throws { try await shortcut.send(automate: false) }
}

struct Lock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lock", abstract: "Lock a workload: no image updates until unlocked (in git).")
    @OptionGroup var shortcut: PolicyShortcut
    func run() async throws { try await shortcut.send(lock: true) }
}

struct Unlock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unlock", abstract: "Unlock a workload (in git).")
    @OptionGroup var shortcut: PolicyShortcut
    func run() async throws { try await shortcut.send(lock: false) }
}
