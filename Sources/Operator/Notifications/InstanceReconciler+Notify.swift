import FlotillaAPI
import Foundation
import KubeModel
import KubeRuntime
import Sync

/// The notify step: an event of the instance goes to each provider of `spec.notifications` that
/// asked for it, through the operator's dispatcher (a sync never waits for a delivery). The
/// provider's address and token come from the tenant's Secret; a Secret that is missing or has no
/// address, and a provider that keeps failing, are Warning Events (`NotificationFailed`) on the
/// FluxInstance.
extension InstanceReconciler {
    func notify(_ kind: NotificationKind, revision: String?, message: String) async {
        let targets = settings.notifications.filter { $0.events.contains(kind) }
        guard !targets.isEmpty else { return }
        let notification = Notification(instance: settings.ref, kind: kind, revision: revision, message: String(message.prefix(1000)), time: Date())
        let object = await instanceObject()
        let events = env.events
        for target in targets {
            let fields: [String: [UInt8]]
            do { fields = Self.fields(of: try await namedSecret(target.secretName, field: "spec.notifications")) } catch {
                await events.record(object, type: .warning, reason: "NotificationFailed", message: "\(target.provider.rawValue): \(error)")
                continue
            }
            guard let address = fields["address"].map({ String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }), !address.isEmpty else {
                await events.record(object, type: .warning, reason: "NotificationFailed",
                                    message: "\(target.provider.rawValue): Secret \(settings.ref.namespace)/\(target.secretName) has no `address`")
                continue
            }
            let token = fields["token"].map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
            env.notifications.enqueue(.init(address: address, provider: target.provider, notification: notification, token: token) { reason in
                await events.record(object, type: .warning, reason: "NotificationFailed", message: reason)
            })
        }
    }

    /// `Applied` once per revision whose sync changed something.
    func notifyApplied(_ head: String) async {
        guard let counts = lastCounts, head != lastNotifiedApply else { return }
        let (created, configured, deleted) = (counts.count(.created), counts.count(.configured), counts.count(.deleted))
        guard created + configured + deleted > 0 else { return }
        lastNotifiedApply = head
        await notify(.applied, revision: head, message: "\(created) created, \(configured) configured, \(deleted) deleted")
    }
}
