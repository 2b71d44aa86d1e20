import Foundation
import KubeModel

/// Structural OpenAPI v3 schema handling for custom resources, in kube-apiserver's order: drop
/// nulls and unknown fields (pruning), apply defaults, then validate with the same messages and field
/// paths as kube-apiserver.
struct SchemaValidator {
    var schema: JSONValue

    // MARK: pruning

    static let metadataFields: Set<String> = [
        "name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp",
        "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields",
    ]

    /// Removes fields the schema does not declare; returns their paths (for strict field validation).
    @discardableResult
    func prune(_ obj: inout JSONValue) -> [String] {
        var unknown: [String] = []
        guard case .object(var root) = obj else { return unknown }
        for (k, v) in root where k != "apiVersion" && k != "kind" && k != "metadata" {
            if schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true && schema["properties"]?[k] == nil { continue }
            guard let child = schema["properties"]?[k] else {
                unknown.append(k)
                root[k] = nil
                continue
            }
            var value = v
            if Self.prune(&value, child, path: k, unknown: &unknown) { root[k] = value } else { root[k] = nil }
        }
        if case .object(var meta)? = root["metadata"] {
            for k in meta.keys where !Self.metadataFields.contains(k) {
                unknown.append("metadata.\(k)")
                meta[k] = nil
            }
            root["metadata"] = .object(meta)
        }
        obj = .object(root)
        return unknown
    }

    /// Prunes in place; returns false when the value itself should be dropped (a non-nullable null).
    static func prune(_ value: inout JSONValue, _ schema: JSONValue, path: String, unknown: inout [String]) -> Bool {
        if value.isNull { return schema["nullable"]?.boolValue == true }
        switch value {
        case .object(var o):
            if schema["x-kubernetes-embedded-resource"]?.boolValue == true {
                // apiVersion, kind and metadata of an embedded object are always kept.
            }
            let preserve = schema["x-kubernetes-preserve-unknown-fields"]?.boolValue == true
            let props = schema["properties"]?.objectValue
            let additional = schema["additionalProperties"]
            for (k, v) in o {
                var child = v
                if let s = props?[k] {
                    if !prune(&child, s, path: "\(path).\(k)", unknown: &unknown) { o[k] = nil } else { o[k] = child }
                } else if let a = additional, a.objectValue != nil {
                    if !prune(&child, a, path: "\(path).\(k)", unknown: &unknown) { o[k] = nil } else { o[k] = child }
                } else if additional?.boolValue == true || preserve {
                    continue
                } else if schema["x-kubernetes-embedded-resource"]?.boolValue == true && ["apiVersion", "kind", "metadata"].contains(k) {
                    continue
                } else if props != nil || schema["type"]?.stringValue == "object" {
                    unknown.append("\(path).\(k)")
                    o[k] = nil
                }
            }
            value = .object(o)
        case .array(var a):
            guard let items = schema["items"] else { return true }
            for i in a.indices {
                var child = a[i]
                if prune(&child, items, path: "\(path)[\(i)]", unknown: &unknown) { a[i] = child }
            }
            value = .array(a.filter { !$0.isNull || items["nullable"]?.boolValue == true })
        default:
            break
        }
        return true
    }

    // MARK: defaulting

    func applyDefaults(_ obj: inout JSONValue) {
        Self.defaults(&obj, schema)
    }

    static func defaults(_ value: inout JSONValue, _ schema: JSONValue) {
        switch value {
        case .object(var o):
            for (k, s) in schema["properties"]?.objectValue ?? [:] {
                if o[k] == nil, let d = s["default"] { o[k] = d }
                if var child = o[k] {
                    defaults(&child, s)
                    o[k] = child
                }
            }
            if let a = schema["additionalProperties"], a.objectValue != nil {
                for (k, v) in o where schema["properties"]?[k] == nil {
                    var child = v
                    defaults(&child, a)
                    o[k] = child
                }
            }
            value = .object(o)
        case .array(var a):
            guard let items = schema["items"] else { return }
            for i in a.indices { defaults(&a[i], items) }
            value = .array(a)
        default:
            break
        }
    }

    // MARK: validation

    /// Field errors in kube-apiserver's wording; the root's apiVersion/kind/metadata are not checked here.
    func validate(_ obj: JSONValue) -> [FieldError] {
        var errors: [RankedError] = []
        guard case .object(let root) = obj else { return [] }
        for k in (schema["properties"]?.objectValue ?? [:]).keys.sorted() where k != "metadata" && k != "apiVersion" && k != "kind" {
            if let v = root[k] { Self.validate(v, schema["properties"]![k]!, path: k, into: &errors) }
        }
        for req in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where root[req] == nil {
            errors.append(RankedError(rank: 5, error: .required(req)))
        }
        return errors.enumerated().sorted { ($0.element.rank, $0.offset) < ($1.element.rank, $1.offset) }.map(\.element.error)
    }

    struct RankedError {
        var rank: Int
        var error: FieldError
    }

    static func typeMatches(_ v: JSONValue, _ type: String, _ schema: JSONValue) -> Bool {
        if schema["x-kubernetes-int-or-string"]?.boolValue == true {
            if case .string = v { return true }
            return v.intValue != nil
        }
        switch type {
        case "object": return v.objectValue != nil
        case "array": return v.arrayValue != nil
        case "string": return v.stringValue != nil
        case "boolean": return v.boolValue != nil
        case "integer": return v.intValue != nil && v.doubleValue.map { $0.rounded() == $0 } == true
        case "number": return v.doubleValue != nil
        default: return true
        }
    }

    static func jsonTypeName(_ v: JSONValue) -> String {
        switch v {
        case .int: return "integer"
        case .double(let d): return d.rounded() == d ? "integer" : "number"
        default: return v.typeName
        }
    }

    static func validate(_ v: JSONValue, _ schema: JSONValue, path: String, into errors: inout [RankedError]) {
        if v.isNull {
            if schema["nullable"]?.boolValue == true { return }
        }
        if let type = schema["type"]?.stringValue, !typeMatches(v, type, schema) {
            let actual = jsonTypeName(v)
            errors.append(RankedError(rank: 1, error: FieldError(field: path, reason: "FieldValueTypeInvalid",
                detailMessage: "Invalid value: \"\(actual)\": \(path) in body must be of type \(type): \"\(actual)\"")))
            return
        }
        if let allowed = schema["enum"]?.arrayValue, !allowed.contains(where: { $0.semanticallyEquals(v) }) {
            errors.append(RankedError(rank: 0, error: FieldError(field: path, reason: "FieldValueNotSupported",
                detailMessage: "Unsupported value: \(v.goDisplay): supported values: \(allowed.map(\.goDisplay).joined(separator: ", "))")))
        }
        switch v {
        case .string(let s):
            if let pattern = schema["pattern"]?.stringValue, !SchemaPatterns.matches(s, pattern: pattern) {
                errors.append(RankedError(rank: 2, error: .invalid(path, value: v.goDisplay, "\(path) in body should match '\(pattern)'")))
            }
            if let max = schema["maxLength"]?.intValue, s.count > max {
                errors.append(RankedError(rank: 4, error: FieldError(field: path, reason: "FieldValueTooLong", detailMessage: "Too long: may not be longer than \(max)")))
            }
            if let min = schema["minLength"]?.intValue, s.count < min {
                errors.append(RankedError(rank: 4, error: .invalid(path, value: v.goDisplay, "\(path) in body should be at least \(min) chars long")))
            }
            if let format = schema["format"]?.stringValue, format == "date-time", Timestamp.parse(s) == nil {
                errors.append(RankedError(rank: 2, error: .invalid(path, value: v.goDisplay, "\(path) in body must be of type date-time: \(v.goDisplay)")))
            }
        case .int, .double:
            guard let d = v.doubleValue else { break }
            if let min = schema["minimum"]?.doubleValue {
                let exclusive = schema["exclusiveMinimum"]?.boolValue == true
                if exclusive ? d <= min : d < min {
                    let m = schema["minimum"]!.goDisplay
                    errors.append(RankedError(rank: 3, error: .invalid(path, value: v.goDisplay,
                        "\(path) in body should be greater than \(exclusive ? "" : "or equal to ")\(m)")))
                }
            }
            if let max = schema["maximum"]?.doubleValue {
                let exclusive = schema["exclusiveMaximum"]?.boolValue == true
                if exclusive ? d >= max : d > max {
                    let m = schema["maximum"]!.goDisplay
                    errors.append(RankedError(rank: 3, error: .invalid(path, value: v.goDisplay,
                        "\(path) in body should be less than \(exclusive ? "" : "or equal to ")\(m)")))
                }
            }
        case .array(let items):
            if let max = schema["maxItems"]?.intValue, items.count > max {
                errors.append(RankedError(rank: 4, error: FieldError(field: path, reason: "FieldValueTooMany", detailMessage: "Too many: \(items.count): must have at most \(max) items")))
            }
            if let min = schema["minItems"]?.intValue, items.count < min {
                errors.append(RankedError(rank: 4, error: .invalid(path, value: String(items.count), "\(path) in body should have at least \(min) items")))
            }
            if let itemSchema = schema["items"] {
                for (i, item) in items.enumerated() { validate(item, itemSchema, path: "\(path)[\(i)]", into: &errors) }
            }
        case .object(let o):
            let props = schema["properties"]?.objectValue ?? [:]
            for k in o.keys.sorted() {
                if let s = props[k] {
                    validate(o[k]!, s, path: "\(path).\(k)", into: &errors)
                } else if let a = schema["additionalProperties"], a.objectValue != nil {
                    validate(o[k]!, a, path: "\(path).\(k)", into: &errors)
                }
            }
            for req in schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [] where o[req] == nil {
                errors.append(RankedError(rank: 5, error: .required("\(path).\(req)")))
            }
            if let min = schema["minProperties"]?.intValue, o.count < min {
                errors.append(RankedError(rank: 4, error: .invalid(path, value: String(o.count), "\(path) in body should have at least \(min) properties")))
            }
            if let max = schema["maxProperties"]?.intValue, o.count > max {
                errors.append(RankedError(rank: 4, error: FieldError(field: path, reason: "FieldValueTooMany", detailMessage: "Too many: \(o.count): must have at most \(max) items")))
            }
        default:
            break
        }
    }
}
