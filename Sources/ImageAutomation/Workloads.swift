import Foundation
import KubeModel

/// Flux v1's workload id: `namespace:kind/name`, kind in lower case (`default:deployment/web`).
public struct WorkloadID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var kind: String
    public var name: String

    public init(namespace: String, kind: String, name: String) {
        (self.namespace, self.kind, self.name) = (namespace, kind.lowercased(), name)
    }

    public init?(_ text: String) {
        guard let colon = text.firstIndex(of: ":"), let slash = text.firstIndex(of: "/"), colon < slash else { return nil }
        let ns = String(text[..<colon]), kind = String(text[text.index(after: colon)..<slash]), name = String(text[text.index(after: slash)...])
        guard !ns.isEmpty, !kind.isEmpty, !name.isEmpty else { return nil }
        self.init(namespace: ns, kind: kind, name: name)
    }

    public var description: String { "\(namespace):\(kind)/\(name)" }
    public static func < (a: WorkloadID, b: WorkloadID) -> Bool { a.description < b.description }
}

/// The automation policy of a workload, from its annotations in git, with Flux v1's keys so that
/// Flux v1 repositories work unchanged: `fluxcd.io/automated`, `fluxcd.io/locked` (with
/// `locked_msg`, `locked_user`), `fluxcd.io/tag.<container>` and its alias
/// `filter.fluxcd.io/<container>`; the legacy `flux.weave.works/` prefix is read too
/// (`fluxcd.io/` wins when both are set).
public struct WorkloadPolicy: Sendable, Equatable {
    public var automated = false
    public var locked = false
    public var lockedMessage: String?
    public var lockedUser: String?
    /// Container name → filter text as written (parsed by `filter(for:)`).
    public var filters: [String: String] = [:]

    public static let prefixes = ["fluxcd.io/", "flux.weave.works/"]

    public init() {}

    public init(annotations: [String: String]) {
        func value(_ key: String) -> String? {
            for p in Self.prefixes { if let v = annotations[p + key] { return v } }
            return nil
        }
        automated = value("automated") == "true"
        locked = value("locked") == "true"
        lockedMessage = value("locked_msg")
        lockedUser = value("locked_user")
        // Lowest precedence first, so that later writes win: legacy prefix, then current; for
        // each, `filter.<prefix><c>` then `<prefix>tag.<c>`.
        for p in Self.prefixes.reversed() {
            for (k, v) in annotations {
                if k.hasPrefix("filter." + p) { filters[String(k.dropFirst(("filter." + p).count))] = v }
            }
            for (k, v) in annotations {
                if k.hasPrefix(p + "tag.") { filters[String(k.dropFirst((p + "tag.").count))] = v }
            }
        }
    }

    /// The container's tag filter; `glob:*` when it has none.
    public func filter(for container: String) throws(TagFilter.Invalid) -> TagFilter {
        guard let text = filters[container] else { return .all }
        return try TagFilter(text)
    }
}

/// A container of a workload found in a file, with where its image is written.
public struct ContainerImage: Sendable, Equatable {
    public var name: String
    public var image: String
    public var initContainer: Bool
    /// Where the image is written in its file (nil for a generated workload: it has no file).
    public var scalar: YAMLScalar?
}

/// A workload (a kind with a pod template) declared in a file of the repository.
public struct Workload: Sendable, Equatable {
    public var id: WorkloadID
    public var file: String
    public var policy: WorkloadPolicy
    public var containers: [ContainerImage]
    /// The pod spec's `imagePullSecrets` names and `serviceAccountName` (registry credentials
    /// come from these, as in Flux v1).
    public var pullSecrets: [String] = []
    public var serviceAccount: String = "default"
    /// The workload's annotations as written (string values).
    public var annotations: [String: String] = [:]
}

public enum WorkloadScanner {
    /// Kinds with a pod template, and where it is.
    public static let podSpecPaths: [String: [String]] = [
        "Deployment": ["spec", "template", "spec"],
        "StatefulSet": ["spec", "template", "spec"],
        "DaemonSet": ["spec", "template", "spec"],
        "ReplicaSet": ["spec", "template", "spec"],
        "Job": ["spec", "template", "spec"],
        "CronJob": ["spec", "jobTemplate", "spec", "template", "spec"],
        "Pod": ["spec"],
    ]

    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// The workloads declared in one file (`List` items included).
    public static func workloads(in bytes: [UInt8], file: String, defaultNamespace: String) throws(Failure) -> [Workload] {
        let documents: [YAMLNode?]
        do { documents = try YAMLTree.documents(bytes) } catch {
            throw Failure(description: "\(file):\(error.line): \(error.message)")
        }
        var out: [Workload] = []
        for case let document? in documents {
            let objects = document["kind"]?.scalar?.value == "List" ? (document["items"]?.items ?? []) : [document]
            for object in objects {
                if let w = workload(object, file: file, defaultNamespace: defaultNamespace) { out.append(w) }
            }
        }
        return out
    }

    static func workload(_ object: YAMLNode, file: String, defaultNamespace: String) -> Workload? {
        guard let kind = object["kind"]?.scalar?.value, let path = podSpecPaths[kind],
              let name = object["metadata"]?["name"]?.scalar?.value else { return nil }
        let namespace = object["metadata"]?["namespace"]?.scalar?.value ?? defaultNamespace
        var annotations: [String: String] = [:]
        for pair in object["metadata"]?["annotations"]?.pairs ?? [] {
            if let k = pair.key?.value, let v = pair.value.scalar?.value { annotations[k] = v }
        }
        var spec: YAMLNode? = object
        for key in path { spec = spec?[key] }
        var containers: [ContainerImage] = []
        for (field, isInit) in [("initContainers", true), ("containers", false)] {
            for c in spec?[field]?.items ?? [] {
                guard let cname = c["name"]?.scalar?.value, let image = c["image"]?.scalar else { continue }
                containers.append(ContainerImage(name: cname, image: image.value, initContainer: isInit, scalar: image))
            }
        }
        return Workload(id: WorkloadID(namespace: namespace, kind: kind, name: name), file: file,
                        policy: WorkloadPolicy(annotations: annotations), containers: containers,
                        pullSecrets: (spec?["imagePullSecrets"]?.items ?? []).compactMap { $0["name"]?.scalar?.value },
                        serviceAccount: spec?["serviceAccountName"]?.scalar?.value ?? spec?["serviceAccount"]?.scalar?.value ?? "default",
                        annotations: annotations)
    }

    /// A workload from a parsed object (generator output): policies and images, no positions.
    public static func workload(_ object: JSONValue, source: String, defaultNamespace: String) -> Workload? {
        guard let kind = object["kind"]?.stringValue, let path = podSpecPaths[kind],
              let name = object["metadata"]?["name"]?.stringValue else { return nil }
        var annotations: [String: String] = [:]
        for (k, v) in object["metadata"]?["annotations"]?.objectValue ?? [:] { if let s = v.stringValue { annotations[k] = s } }
        var spec: JSONValue? = object
        for key in path { spec = spec?[key] }
        var containers: [ContainerImage] = []
        for (field, isInit) in [("initContainers", true), ("containers", false)] {
            for c in spec?[field]?.arrayValue ?? [] {
                guard let cname = c["name"]?.stringValue, let image = c["image"]?.stringValue else { continue }
                containers.append(ContainerImage(name: cname, image: image, initContainer: isInit, scalar: nil))
            }
        }
        return Workload(id: WorkloadID(namespace: object["metadata"]?["namespace"]?.stringValue ?? defaultNamespace, kind: kind, name: name),
                        file: source, policy: WorkloadPolicy(annotations: annotations), containers: containers,
                        pullSecrets: (spec?["imagePullSecrets"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue },
                        serviceAccount: spec?["serviceAccountName"]?.stringValue ?? "default", annotations: annotations)
    }

    /// `bytes` with one container's image set to `image`, every other byte unchanged.
    public static func settingImage(_ image: String, of container: String, in workload: WorkloadID, bytes: [UInt8],
                                    file: String, defaultNamespace: String) throws(Failure) -> [UInt8] {
        let found = try workloads(in: bytes, file: file, defaultNamespace: defaultNamespace).first { $0.id == workload }
        guard let scalar = found?.containers.first(where: { $0.name == container })?.scalar else {
            throw Failure(description: "\(file): no container \(container) in \(workload)")
        }
        do { return try YAMLTree.replacing(scalar, with: image, in: bytes) } catch {
            throw Failure(description: "\(file): container \(container) of \(workload): \(error.message)")
        }
    }
}
