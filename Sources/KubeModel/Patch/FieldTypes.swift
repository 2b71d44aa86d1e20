/// How a list merges and is tracked by field managers (structured-merge-diff's list types).
public enum ListType: Sendable, Equatable {
    case atomic
    case set
    case map(keys: [String])
}

/// Structural type information the emulator needs for server-side apply, strategic merge patch and
/// managed fields: which lists are keyed, which are sets, which objects are atomic. Built-in kinds use
/// the list-map keys of their Go types; custom resources use their CRD schema.
public struct FieldTypes: Sendable {
    /// The CRD's schema for custom resources (nil for built-ins).
    public var schema: JSONValue?

    public init(schema: JSONValue?) { self.schema = schema }

    public static let builtin = FieldTypes(schema: nil)

    public func listType(_ fieldPath: [String]) -> ListType {
        guard let last = fieldPath.last else { return .atomic }
        // Object metadata is the same everywhere.
        if fieldPath.count == 2 && fieldPath[0] == "metadata" {
            switch last {
            case "finalizers": return .set
            case "ownerReferences": return .map(keys: ["uid"])
            default: return .atomic
            }
        }
        if let schema {
            guard let node = Self.schemaNode(schema, fieldPath) else { return .atomic }
            switch node["x-kubernetes-list-type"]?.stringValue {
            case "set": return .set
            case "map": return .map(keys: node["x-kubernetes-list-map-keys"]?.arrayValue?.compactMap(\.stringValue) ?? [])
            default: return .atomic
            }
        }
        switch last {
        case "containers", "initContainers", "ephemeralContainers", "env", "volumes", "imagePullSecrets":
            return .map(keys: ["name"])
        case "hostAliases": return .map(keys: ["ip"])
        case "volumeMounts": return .map(keys: ["mountPath"])
        case "volumeDevices": return .map(keys: ["devicePath"])
        case "conditions": return .map(keys: ["type"])
        case "topologySpreadConstraints": return .map(keys: ["topologyKey", "whenUnsatisfiable"])
        case "ports":
            if fieldPath.contains("containers") || fieldPath.contains("initContainers") || fieldPath.contains("ephemeralContainers") {
                return .map(keys: ["containerPort", "protocol"])
            }
            return .map(keys: ["port", "protocol"])
        default: return .atomic
        }
    }

    /// Objects replaced as a whole rather than merged field by field.
    public func isAtomicObject(_ fieldPath: [String]) -> Bool {
        guard let last = fieldPath.last else { return false }
        if let schema {
            guard let node = Self.schemaNode(schema, fieldPath) else { return false }
            return node["x-kubernetes-map-type"]?.stringValue == "atomic"
        }
        return last == "selector" || last == "roleRef"
    }

    /// The schema node at a field path (array items are stepped into transparently).
    public static func schemaNode(_ schema: JSONValue, _ fieldPath: [String]) -> JSONValue? {
        var node: JSONValue? = schema
        for field in fieldPath {
            if node?["type"]?.stringValue == "array" { node = node?["items"] }
            if let child = node?["properties"]?[field] {
                node = child
            } else if let additional = node?["additionalProperties"], additional.objectValue != nil {
                node = additional
            } else {
                return nil
            }
        }
        return node
    }

    /// The key object of a keyed list item, e.g. `{"name":"app"}`. Missing `protocol` defaults to TCP,
    /// as the API server's defaulting does before keys are computed.
    public func keyObject(_ item: JSONValue, keys: [String]) -> JSONValue {
        var k: [String: JSONValue] = [:]
        for key in keys {
            if let v = item[key] {
                k[key] = v
            } else if key == "protocol" {
                k[key] = "TCP"
            }
        }
        return .object(k)
    }
}
