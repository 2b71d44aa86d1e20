import FlotillaAPI
import Foundation
import GitSource
import KubeClient
import KubeModel
import Logging
import Sync
import Synchronization

/// Push webhooks: `POST /hooks/<namespace>/<secret>`. The path names a receiver: the Secret that
/// instances of that namespace name in `spec.receiver`. A delivery is verified with that Secret's
/// `token` before its body is read, and wakes only those instances, for the pushed repository and
/// branch; so a tenant's receiver wakes nothing but its own instances, and a path no instance
/// names is 404 without any Secret being read.
extension Supervisor {
    public struct HookAnswer: Sendable, Equatable {
        public var status: Int
        public var message: String
        public var woken: [InstanceRef]
    }

    public func receive(namespace: String, receiver: String, delivery: WebhookDelivery) async -> HookAnswer {
        let named = state.withLock { s in s.reconcilers.filter { $0.key.namespace == namespace }.map(\.value) }
        var instances: [(InstanceReconciler, InstanceSettings)] = []
        for r in named {
            let s = await r.settings
            if s.receiver?.secretName == receiver { instances.append((r, s)) }
        }
        guard let type = instances.first?.1.receiver?.type else {
            return HookAnswer(status: 404, message: "no receiver \(namespace)/\(receiver)", woken: [])
        }
        let key = "\(namespace)/\(receiver)"
        let token: String
        do {
            let secret = try await env.client.get(Secret.self, name: receiver, namespace: namespace)
            token = secret.value("token").map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        } catch {
            logger.warning("receiver secret unreadable", metadata: ["receiver": "\(key)", "error": "\(error)"])
            return HookAnswer(status: 503, message: "the receiver's Secret cannot be read", woken: [])
        }
        switch delivery.verdict(type, token: token) {
        case .rejected(let status, let reason):
            receiverMetric(key, "rejected")
            logger.notice("webhook rejected", metadata: ["receiver": "\(key)", "reason": "\(reason)"])
            return HookAnswer(status: status, message: reason, woken: [])
        case .ignored(let why):
            receiverMetric(key, "ignored")
            return HookAnswer(status: 200, message: "ignored: \(why)", woken: [])
        case .push(let event, let id):
            switch receiverGuard.admit(key, delivery: id) {
            case .replay:
                receiverMetric(key, "replay")
                return HookAnswer(status: 200, message: "delivery \(id ?? "") already received", woken: [])
            case .rateLimited:
                receiverMetric(key, "limited")
                return HookAnswer(status: 429, message: "too many deliveries for this receiver", woken: [])
            case .admitted:
                break
            }
            var woken: [InstanceRef] = []
            for (reconciler, settings) in instances where Self.matches(event, settings) {
                await reconciler.pushReceived()
                woken.append(settings.ref)
            }
            receiverMetric(key, "accepted")
            logger.info("webhook received", metadata: ["receiver": "\(key)", "woken": "\(woken.count)", "branch": "\(event.branch ?? "")"])
            return HookAnswer(status: 202, message: "woke \(woken.count) instance(s)", woken: woken)
        }
    }

    /// The push is for the instance's repository (in any URL form) and branch (an instance that
    /// follows the remote's default branch is woken by a push to any branch).
    static func matches(_ event: PushEvent, _ settings: InstanceSettings) -> Bool {
        if !event.repositories.isEmpty && !event.repositories.contains(GitURL.repository(settings.source.url)) { return false }
        guard let pushed = event.branch, let branch = settings.source.branch else { return true }
        return pushed == branch
    }

    func receiverMetric(_ receiver: String, _ result: String) {
        env.metrics.webhook(receiver: receiver, result: result)
    }
}
