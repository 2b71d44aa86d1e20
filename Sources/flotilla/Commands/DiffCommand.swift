import ArgumentParser
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel
import Operator
import Sync

/// `flotilla diff`: what syncing a branch, a commit or a working copy would change, object by
/// object, like `kubectl diff`: each object server-side applied with dryRun as the instance's
/// ServiceAccount (so its RBAC decides), diffed with the live object; then what garbage
/// collection would delete or hold. Exit status 0: no change, 1: changes, 2: errors.
struct DiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "Show what syncing a branch, a commit or a local working copy would change (exit 0: none, 1: changes, 2: errors).")

    @OptionGroup var options: ClientOptions
    @OptionGroup var source: PreviewOptions
    @Flag(help: "Dry-run as yourself instead of as the instance's ServiceAccount (which needs the right to impersonate it).")
    var asCaller = false
    @Option(help: "Dry-run as this ServiceAccount of the instance's namespace (default: spec.serviceAccountName, else flotilla-<name>).")
    var serviceAccount: String?

    func run() async throws {
        do {
            try await diff()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    func diff() async throws {
        let (client, namespace) = try options.client()
        let entries: [ChangePreview.Entry]
        let revision: String
        let preview: InstancePreview
        (preview, revision, entries) = try await using(client) { client in
            let preview = try await InstancePreview.load(client: client, namespace: namespace, name: source.instance)
            let account = serviceAccount ?? preview.serviceAccount
            if serviceAccount == nil, !asCaller, let other = preview.reportedOtherServiceAccount {
                FileHandle.standardError.write(Data("note: \(preview.target) reports that it syncs as \(other), not \(account); pass --service-account \(other) to dry-run as it\n".utf8))
            }
            let actor = asCaller ? client : client.impersonating(.serviceAccount(namespace: preview.settings.ref.namespace, name: account))
            if !asCaller { try await Self.checkImpersonation(actor, account: "\(preview.settings.ref.namespace)/\(account)") }
            return try await withScratch { work in
                let (revision, branch, rendered) = try await preview.render(source, work: work)
                let options = preview.syncOptions(branch: branch)
                let desired = try await preview.plan(rendered, options: options, client: client)
                return (preview, revision, await ChangePreview(client: actor, options: options).preview(desired, inventory: preview.inventory))
            }
        }
        let count = { (a: ChangePreview.Entry.Action) in entries.filter { $0.action == a }.count }
        let errors = count(.forbidden) + count(.failed)
        let changes = count(.create) + count(.update) + count(.delete)
        switch options.output {
        case .json, .yaml:
            var summary: [String: JSONValue] = [:]
            for action in ChangePreview.Entry.Action.allCases { summary[action.rawValue] = .int(Int64(count(action))) }
            let report: JSONValue = [
                "instance": .string("\(preview.settings.ref)"), "revision": .string(revision),
                "actingAs": .string(asCaller ? "caller" : "system:serviceaccount:\(preview.settings.ref.namespace):\(serviceAccount ?? preview.serviceAccount)"),
                "garbageCollection": .bool(preview.settings.garbageCollection.enabled),
                "objects": .array(entries.filter { $0.action != .unchanged }.map { e in
                    var o: [String: JSONValue] = ["object": .string("\(e.id)"), "action": .string(e.action.rawValue)]
                    if !e.diff.isEmpty { o["diff"] = .string(e.diff) }
                    if let m = e.message { o["message"] = .string(m) }
                    return .object(o)
                }),
                "summary": .object(summary),
            ]
            options.emit(report)
        case .table:
            for e in entries where !e.diff.isEmpty { print(e.diff, terminator: "") }
            var notes: [String] = []
            for e in entries {
                switch e.action {
                case .forbidden, .failed: notes.append("error: \(e.id): \(e.message ?? "")")
                case .held: notes.append("held: \(e.id): \(e.message ?? "")")
                case .skipped: notes.append("skipped: \(e.id): \(e.message ?? "")")
                default: break
                }
            }
            if preview.inventory == nil && preview.settings.garbageCollection.enabled {
                notes.append("note: the instance's inventory could not be read: deletions are not shown")
            }
            notes.append("\(preview.target) at \(revision.prefix(12)): \(count(.create)) to create, \(count(.update)) to change, \(count(.delete)) to delete, "
                          + "\(count(.held)) held, \(count(.unchanged)) unchanged, \(errors) error(s)")
            FileHandle.standardError.write(Data((notes.joined(separator: "\n") + "\n").utf8))
        }
        if errors > 0 { throw ExitCode(2) }
        if changes > 0 { throw ExitCode(1) }
    }

    /// A first request as the instance: a caller who may not impersonate it gets a clear answer.
    static func checkImpersonation(_ actor: KubeClient, account: String) async throws {
        let reviews = ResourceType(group: "authentication.k8s.io", version: "v1", resource: "selfsubjectreviews", kind: "SelfSubjectReview", namespaced: false)
        do {
            _ = try await actor.create(reviews, ["apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"])
        } catch {
            // SelfSubjectReview came with Kubernetes 1.28: before it, the first real request says.
            if error.isNotFound { return }
            guard error.code == 403 else { throw CLIError("cannot reach the API server: \(error.message)") }
            throw CLIError("you may not act as ServiceAccount \(account), which the instance syncs as: \(error.message)\n"
                           + "Ask for `impersonate` on it (see docs/cli.md), or pass --as-caller to dry-run with your own rights.")
        }
    }
}
