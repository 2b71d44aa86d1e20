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
        var registries: [(InstanceReconciler, InstanceSettings)] = []
        for r in named {
            let s = await r.settings
            if s.receiver?.secretName == receiver { instances.append((r, s)) }
            if s.images?.receiver?.secretName == receiver { registries.append((r, s)) }
        }
        guard instances.first?.1.receiver?.type != nil || !registries.isEmpty else {
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
        guard let type = instances.first?.1.receiver?.type else {
            return await receiveRegistry(key, registries, delivery: delivery, token: token)
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

    /// A registry's push: every instance naming the receiver scans the pushed images at once
    /// (an instance that does not automate them scans nothing more).
    func receiveRegistry(_ key: String, _ instances: [(InstanceReconciler, InstanceSettings)], delivery: WebhookDelivery, token: String) async -> HookAnswer {
        guard let type = instances.first?.1.images?.receiver?.type else { return HookAnswer(status: 404, message: "no receiver \(key)", woken: []) }
        let verdict = delivery.registryVerdict(type, token: token)
        if let rejected = verdict.rejected {
            receiverMetric(key, "rejected")
            logger.notice("webhook rejected", metadata: ["receiver": "\(key)", "reason": "\(rejected.reason)"])
            return HookAnswer(status: rejected.status, message: rejected.reason, woken: [])
        }
        guard let images = verdict.images, !images.isEmpty else {
            receiverMetric(key, "ignored")
            return HookAnswer(status: 200, message: "ignored: not a push", woken: [])
        }
        switch receiverGuard.admit(key, delivery: delivery.headers["x-delivery"]) {
        case .replay: return HookAnswer(status: 200, message: "delivery already received", woken: [])
        case .rateLimited: return HookAnswer(status: 429, message: "too many deliveries for this receiver", woken: [])
        case .admitted: break
        }
        for (reconciler, _) in instances { await reconciler.imagesPushed(images) }
        receiverMetric(key, "accepted")
        logger.info("registry webhook received", metadata: ["receiver": "\(key)", "images": "\(images.sorted().joined(separator: ","))"])
        return HookAnswer(status: 202, message: "woke \(instances.count) instance(s) to scan \(images.sorted().joined(separator: ", "))", woken: instances.map(\.1.ref))
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
