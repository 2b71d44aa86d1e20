import Foundation
import KubeModel

/// A field selector: `metadata.name` and `metadata.namespace` for every resource, plus the fields
/// kube-apiserver 1.30 supports for some kinds (`involvedObject.*` of events, `spec.nodeName` of pods, …;
/// k8s.io/kubernetes pkg/apis/*/v1/conversion.go).
struct FieldSelector: Sendable {
    struct Term: Sendable {
        var field: String
        var value: String
        var negated: Bool
    }
    var terms: [Term] = []

    static let common: Set<String> = ["metadata.name", "metadata.namespace"]
    static let eventFields: Set<String> = ["reason", "source", "type", "metadata.name", "metadata.namespace"]
    /// Resources with their own field label conversion: exactly these labels.
    static let byResource: [String: Set<String>] = [
        "events": eventFields.union(["involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
                                     "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath", "reportingComponent"]),
        "events.events.k8s.io": eventFields.union(["regarding.kind", "regarding.namespace", "regarding.name", "regarding.uid",
                                                   "regarding.apiVersion", "regarding.resourceVersion", "regarding.fieldPath", "reportingController"]),
        "pods": common.union(["spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "spec.hostNetwork",
                              "status.phase", "status.podIP", "status.podIPs", "status.nominatedNodeName", "spec.host"]),
        "nodes": ["metadata.name", "spec.unschedulable"],
        "namespaces": ["metadata.name", "status.phase"],
        "replicationcontrollers": common.union(["status.replicas"]),
        "secrets": common.union(["type"]),
        "jobs.batch": common.union(["status.successful"]),
        "certificatesigningrequests.certificates.k8s.io": ["metadata.name", "spec.signerName"],
    ]
    /// Labels whose value is not simply the field they name (pkg/registry/*/strategy.go ToSelectableFields).
    static func value(_ field: String, of object: JSONValue) -> JSONValue? {
        switch field {
        case "spec.host": return object["spec"]?["nodeName"]
        case "status.successful": return object["status"]?["succeeded"]
        case "spec.hostNetwork": return object["spec"]?["hostNetwork"] ?? .bool(false)
        case "source":  // the component, else the reporting controller (either version of an Event)
            let component = object["source"]?["component"] ?? object["deprecatedSource"]?["component"]
            if let c = component?.stringValue, !c.isEmpty { return component }
            return object["reportingComponent"] ?? object["reportingController"]
        default: return object[path: field.split(separator: ".").map(String.init)]
        }
    }

    static func parse(_ text: String, resource: String = "") throws(APIError) -> FieldSelector {
        var selector = FieldSelector()
        for raw in text.split(separator: ",") {
            let part = String(raw).trimmingSpaces
            if part.isEmpty { continue }
            var field: String
            var value: String
            var negated = false
            if let r = part.range(of: "!=") {
                field = String(part[..<r.lowerBound]); value = String(part[r.upperBound...]); negated = true
            } else if let r = part.range(of: "==") {
                field = String(part[..<r.lowerBound]); value = String(part[r.upperBound...])
            } else if let r = part.range(of: "=") {
                field = String(part[..<r.lowerBound]); value = String(part[r.upperBound...])
            } else {
                throw APIError.badRequest("invalid selector: '\(text)'; can't understand '\(part)'")
            }
            field = field.trimmingSpaces
            value = value.trimmingSpaces
            if let allowed = byResource[resource] {
                guard allowed.contains(field) else { throw APIError.badRequest("field label not supported: \(field)") }
            } else if !common.contains(field) {
                throw APIError.badRequest("\"\(field)\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"")
            }
            selector.terms.append(Term(field: field, value: value, negated: negated))
        }
        return selector
    }

    func matches(_ object: JSONValue) -> Bool {
        terms.allSatisfy { t in
            let actual: String
            switch Self.value(t.field, of: object) {
            case .string(let s)?: actual = s
            case .int(let i)?: actual = String(i)
            case .bool(let b)?: actual = b ? "true" : "false"
            default: actual = ""
            }
            return (actual == t.value) != t.negated
        }
    }

    /// The single name this selector pins, if any (RBAC treats it like a named request).
    var pinnedName: String? { terms.first { $0.field == "metadata.name" && !$0.negated }?.value }
}
