import FlotillaAPI
import Foundation
import GitSource
import KubeModel
import KubeRuntime
import Sync

/// The commit-status step (`spec.commitStatus`): the revision being applied gets `pending` on its
/// git host when its sync starts, then `success` or `failure`, with the instance as the context.
/// Sent through the operator's dispatcher (a sync never waits, a failing host is an Event), with
/// the token of the tenant's Secret, to the host's API (or `spec.commitStatus.address`, held to
/// the same address rules as notifications).
extension InstanceReconciler {
    /// `outcome` nil: the sync of `head` is starting.
    func reportCommitStatus(head: String, outcome: Outcome?) async {
        guard let spec = settings.commitStatus else { return }
        let state: CommitState = outcome.map { $0.ready ? .success : .failure } ?? .pending
        guard lastCommitStatus?.sha != head || lastCommitStatus?.state != state else { return }
        lastCommitStatus = (head, state)
        let object = await instanceObject()
        let events = env.events
        let token: String
        do {
            let fields = Self.fields(of: try await namedSecret(spec.secretName, field: "spec.commitStatus.secretRef"))
            token = fields["token"].map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        } catch {
            await events.record(object, type: .warning, reason: "CommitStatusFailed", message: "\(error)")
            return
        }
        let host = GitURL.parse(settings.source.url)?.host ?? ""
        let context = "flotilla/\(settings.ref.namespace)/\(settings.ref.name)"
        let description = outcome.map { $0.ready ? "applied" : "\($0.reason): \($0.message)" } ?? "applying"
        guard !token.isEmpty,
              let request = CommitStatusRequest.make(spec.provider, address: spec.address ?? CommitStatusRequest.defaultAddress(spec.provider, host: host),
                                                     repository: settings.source.url, sha: head, state: state, context: context,
                                                     description: description, link: spec.link, token: token) else {
            await events.record(object, type: .warning, reason: "CommitStatusFailed",
                                message: token.isEmpty ? "Secret \(settings.ref.namespace)/\(spec.secretName) has no `token`"
                                    : "\(settings.source.url) names no owner and repository for a commit status")
            return
        }
        env.notifications.enqueue(.init(address: request.url, headers: request.headers, body: request.body, dedupeKey: "\(head)|\(state.rawValue)|\(context)",
                                        what: "\(spec.provider.rawValue) commit status") { reason in
            await events.record(object, type: .warning, reason: "CommitStatusFailed", message: reason)
        })
    }
}
