import Foundation
import ImageAutomation
import KubeModel

/// The registries whose push webhooks make automation scan at once (`spec.registry.receiver`).
public enum RegistryHookType: String, Sendable, CaseIterable {
    case dockerhub, harbor, quay, generic
}

extension WebhookDelivery {
    /// A registry's push: the image repositories it names (`docker.io/org/app`), after the
    /// registry's own check. Docker Hub and Quay sign nothing: their URL carries the token
    /// (`?token=`); Harbor sends it as the Authorization header; the generic hook signs the body.
    public func registryVerdict(_ type: RegistryHookType, token: String) -> (images: Set<String>?, rejected: (status: Int, reason: String)?) {
        guard !token.isEmpty else { return (nil, (401, "the receiver's Secret has no token")) }
        let given: String?
        switch type {
        case .dockerhub, .quay: given = query["token"]
        case .harbor: given = headers["authorization"]
        case .generic: given = nil
        }
        if type == .generic {
            guard signed("x-signature", prefix: "sha256=", token) else { return (nil, (401, Self.badSignature.reason)) }
        } else {
            guard let given, Self.equal(Array(given.utf8), Array(token.utf8)) else { return (nil, (401, Self.badSignature.reason)) }
        }
        guard let json = try? JSONValue.parse(body) else { return (nil, (400, "the push is not JSON")) }
        var names: [String] = []
        switch type {
        case .dockerhub:
            names = [json["repository"]?["repo_name"]?.stringValue].compactMap { $0 }
        case .harbor:
            guard json["type"]?.stringValue == "PUSH_ARTIFACT" else { return ([], nil) }
            names = (json["event_data"]?["resources"]?.arrayValue ?? []).compactMap { $0["resource_url"]?.stringValue }
        case .quay:
            names = [json["docker_url"]?.stringValue].compactMap { $0 }
        case .generic:
            names = [json["image"]?.stringValue].compactMap { $0 }
        }
        let images = Set(names.compactMap { ImageRef($0)?.name })
        guard !images.isEmpty else { return (nil, (400, "the push names no image")) }
        return (images, nil)
    }
}

extension WebhookDelivery.Verdict {
    var reason: String {
        if case .rejected(_, let reason) = self { return reason }
        return ""
    }
}
