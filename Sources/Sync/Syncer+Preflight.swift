import FlotillaAPI
import KubeClient
import KubeModel
import Logging
import Manifests

extension Syncer {
    /// One SelfSubjectAccessReview per verb, resource and namespace (not per object): may the
    /// identity create and patch them? Every object it may not write is listed; none is applied.
    func preflight(_ desired: [DesiredObject], revision: String) async throws(SyncError) {
        struct Target: Hashable {
            var group: String
            var resource: String
            var namespace: String?
        }
        var byTarget: [Target: [DesiredObject]] = [:]
        for d in desired {
            guard let type = d.type else { continue }
            byTarget[Target(group: type.group, resource: type.resource, namespace: d.id.namespace), default: []].append(d)
        }
        var problems: [String] = []
        for (target, objects) in byTarget.sorted(by: { "\($0.key)" < "\($1.key)" }) {
            var denied: [String] = []
            for verb in ["create", "patch"] {
                do {
                    if try await !client.canI(verb: verb, group: target.group, resource: target.resource, namespace: target.namespace) { denied.append(verb) }
                } catch {
                    throw .plan(SyncPlanError(reason: .discovery, problems: ["cannot check access to \(target.resource): \(error.message)"]))
                }
            }
            guard !denied.isEmpty else { continue }
            let identity = client.impersonation?.user ?? "the operator"
            let scope = target.namespace.map { " in namespace \($0)" } ?? " (cluster-wide)"
            for d in objects {
                problems.append("\(d.manifest.location): \(d.id): \(identity) may not \(denied.joined(separator: "/")) \(target.resource)\(scope)")
            }
        }
        guard problems.isEmpty else {
            logger.warning("revision refused", metadata: ["revision": "\(revision.prefix(7))", "reason": "Forbidden", "objects": "\(problems.count)"])
            throw .plan(SyncPlanError(reason: .forbidden, problems: problems))
        }
    }
}
