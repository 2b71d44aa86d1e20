import Foundation

/// A Codable Kubernetes object with a known resource type.
public protocol KubeObject: Codable, Sendable {
    static var resourceType: ResourceType { get }
    var metadata: ObjectMeta { get set }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil, blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: String?
    public var deletionTimestamp: String?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var finalizers: [String]?
    public var ownerReferences: [OwnerReference]?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil, annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

/// A status condition (metav1.Condition).
public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    public var lastTransitionTime: String?
    public var observedGeneration: Int64?

    public init(type: String, status: String, reason: String? = nil, message: String? = nil, lastTransitionTime: String? = nil, observedGeneration: Int64? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }
}

public struct Secret: KubeObject {
    public static let resourceType = ResourceType.secrets
    public var apiVersion = "v1"
    public var kind = "Secret"
    public var metadata: ObjectMeta
    /// Base64-encoded values, as on the wire.
    public var data: [String: String]?
    public var stringData: [String: String]?
    public var type: String?

    public init(metadata: ObjectMeta, data: [String: [UInt8]] = [:], type: String? = nil) {
        self.metadata = metadata
        self.data = data.mapValues { Data($0).base64EncodedString() }
        self.type = type
    }

    /// A decoded value.
    public func value(_ key: String) -> [UInt8]? {
        if let s = stringData?[key] { return Array(s.utf8) }
        return data?[key].flatMap { Data(base64Encoded: $0) }.map(Array.init)
    }

    /// Every decoded value.
    public var values: [String: [UInt8]] {
        Set((data ?? [:]).keys).union((stringData ?? [:]).keys).reduce(into: [:]) { out, key in out[key] = value(key) }
    }
}

public struct ConfigMap: KubeObject {
    public static let resourceType = ResourceType.configMaps
    public var apiVersion = "v1"
    public var kind = "ConfigMap"
    public var metadata: ObjectMeta
    public var data: [String: String]?

    public init(metadata: ObjectMeta, data: [String: String]? = nil) {
        self.metadata = metadata
        self.data = data
    }
}

public struct ServiceAccount: KubeObject {
    public static let resourceType = ResourceType.serviceAccounts
    public var apiVersion = "v1"
    public var kind = "ServiceAccount"
    public var metadata: ObjectMeta
    public var imagePullSecrets: [LocalObjectReference]?

    public init(metadata: ObjectMeta) { self.metadata = metadata }
}

public struct LocalObjectReference: Codable, Sendable, Hashable {
    public var name: String
}

public struct Lease: KubeObject {
    public static let resourceType = ResourceType.leases
    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int?

        public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: String? = nil, renewTime: String? = nil, leaseTransitions: Int? = nil) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }
    public var apiVersion = "coordination.k8s.io/v1"
    public var kind = "Lease"
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(metadata: ObjectMeta, spec: Spec? = nil) {
        self.metadata = metadata
        self.spec = spec
    }
}

public struct ObjectReference: Codable, Sendable, Hashable {
    public var apiVersion: String?
    public var kind: String?
    public var name: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var fieldPath: String?

    public init(apiVersion: String? = nil, kind: String? = nil, name: String? = nil, namespace: String? = nil, uid: String? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.uid = uid
    }
}

/// core/v1 Event.
public struct Event: KubeObject {
    public static let resourceType = ResourceType.events
    public struct Source: Codable, Sendable, Hashable {
        public var component: String?
        public var host: String?
    }
    public var apiVersion = "v1"
    public var kind = "Event"
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    public var type: String?
    public var count: Int?
    public var firstTimestamp: String?
    public var lastTimestamp: String?
    public var source: Source?
    public var reportingComponent: String?
    public var reportingInstance: String?

    public init(metadata: ObjectMeta, involvedObject: ObjectReference, reason: String, message: String, type: String, count: Int,
                firstTimestamp: String, lastTimestamp: String, component: String) {
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.type = type
        self.count = count
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.source = Source(component: component, host: nil)
        self.reportingComponent = component
    }
}

public struct ResourceAttributes: Codable, Sendable, Hashable {
    public var namespace: String?
    public var verb: String?
    public var group: String?
    public var version: String?
    public var resource: String?
    public var subresource: String?
    public var name: String?

    public init(namespace: String? = nil, verb: String, group: String = "", resource: String, subresource: String? = nil, name: String? = nil) {
        self.namespace = namespace
        self.verb = verb
        self.group = group
        self.resource = resource
        self.subresource = subresource
        self.name = name
    }
}

public struct AccessReviewStatus: Codable, Sendable, Hashable {
    public var allowed: Bool
    public var denied: Bool?
    public var reason: String?
    public var evaluationError: String?

    public init(allowed: Bool, denied: Bool? = nil, reason: String? = nil, evaluationError: String? = nil) {
        self.allowed = allowed
        self.denied = denied
        self.reason = reason
        self.evaluationError = evaluationError
    }
}

public struct SubjectAccessReview: KubeObject {
    public static let resourceType = ResourceType.subjectAccessReviews
    public struct Spec: Codable, Sendable, Hashable {
        public var resourceAttributes: ResourceAttributes?
        public var user: String?
        public var groups: [String]?
    }
    public var apiVersion = "authorization.k8s.io/v1"
    public var kind = "SubjectAccessReview"
    public var metadata = ObjectMeta()
    public var spec: Spec
    public var status: AccessReviewStatus?

    public init(user: String, groups: [String] = [], attributes: ResourceAttributes) {
        self.spec = Spec(resourceAttributes: attributes, user: user, groups: groups)
    }
}

public struct SelfSubjectAccessReview: KubeObject {
    public static let resourceType = ResourceType.selfSubjectAccessReviews
    public struct Spec: Codable, Sendable, Hashable {
        public var resourceAttributes: ResourceAttributes?
    }
    public var apiVersion = "authorization.k8s.io/v1"
    public var kind = "SelfSubjectAccessReview"
    public var metadata = ObjectMeta()
    public var spec: Spec
    public var status: AccessReviewStatus?

    public init(attributes: ResourceAttributes) { self.spec = Spec(resourceAttributes: attributes) }
}

public struct TokenRequest: Codable, Sendable {
    public struct Spec: Codable, Sendable {
        public var audiences: [String]?
        public var expirationSeconds: Int64?
    }
    public struct Status: Codable, Sendable {
        public var token: String
        public var expirationTimestamp: String
    }
    public var apiVersion = "authentication.k8s.io/v1"
    public var kind = "TokenRequest"
    public var spec: Spec
    public var status: Status?

    public init(audiences: [String]? = nil, expirationSeconds: Int64 = 3600) {
        self.spec = Spec(audiences: audiences, expirationSeconds: expirationSeconds)
    }
}


extension JSONValue {
    /// Encodes a Codable value through Foundation's JSONEncoder (used for the operator's own
    /// low-volume objects; manifests take the fast untyped path).
    public static func encode(_ value: some Encodable) throws(KubeError) -> JSONValue {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            return try JSONValue.parse(Array(try encoder.encode(value)))
        } catch {
            throw KubeError(code: 0, reason: "Encode", message: "cannot encode \(type(of: value)): \(error)")
        }
    }

    public func decode<T: Decodable>(_ type: T.Type) throws(KubeError) -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(jsonBytes()))
        } catch {
            throw KubeError(code: 0, reason: "Decode", message: "cannot decode \(T.self): \(error)")
        }
    }
}
