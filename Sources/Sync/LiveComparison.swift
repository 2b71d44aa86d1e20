import Crypto
import Foundation
import KubeModel

/// Decides, without asking the API server, whether a live object already is what git wants: its
/// checksum annotation matches the desired object's checksum, and every field the desired object
/// sets is present and equal in the live object (so an edit to a field git owns is drift, while
/// fields the server or other managers added are not).
public enum LiveComparison {
    /// Hex SHA-1 of the object's canonical JSON (sorted keys), as in `fluxcd.io/sync-checksum`.
    public static func checksum(_ object: JSONValue) -> String {
        Insecure.SHA1.hash(data: object.jsonBytes()).hexString
    }

    public static func isUpToDate(desired: JSONValue, live: JSONValue, checksum: String) -> Bool {
        guard live["metadata"]?["annotations"]?["fluxcd.io/sync-checksum"]?.stringValue == checksum else { return false }
        return contains(live, comparable(desired), fieldPath: [])
    }

    /// What of a desired object is compared: no status; a Secret's `stringData` as `data`.
    static func comparable(_ desired: JSONValue) -> JSONValue {
        var wanted = desired
        wanted["status"] = nil
        if desired["kind"]?.stringValue == "Secret", desired["apiVersion"]?.stringValue == "v1" { wanted = secretWithData(wanted) }
        return wanted
    }

    /// Whether `live` has every field of `desired` with an equal value. Nulls in `desired` are
    /// "unset" and match anything; keyed lists match items by key, other lists by position.
    /// (The hot path of every resync: no paths are built and no keys sorted; `difference` names
    /// the field once something differs.)
    public static func contains(_ live: JSONValue, _ desired: JSONValue, fieldPath: [String]) -> Bool {
        switch desired {
        case .null:
            return true
        case .object(let want):
            guard case .object(let have) = live else { return false }
            for (key, value) in want {
                if value.isNull { continue }
                guard let actual = have[key] else {
                    // The server drops empty lists and maps (`args: []`).
                    if value.arrayValue?.isEmpty == true || value.objectValue?.isEmpty == true { continue }
                    return false
                }
                guard contains(actual, value, fieldPath: fieldPath + [key]) else { return false }
            }
            return true
        case .array(let want):
            guard case .array(let have) = live else { return false }
            switch FieldTypes.builtin.listType(fieldPath) {
            case .map(let keys):
                return want.allSatisfy { item in
                    let key = FieldTypes.builtin.keyObject(item, keys: keys)
                    return have.contains { FieldTypes.builtin.keyObject($0, keys: keys) == key && contains($0, item, fieldPath: fieldPath) }
                }
            case .set:
                return want.allSatisfy { item in have.contains { $0.semanticallyEquals(item) } }
            case .atomic:
                return want.count == have.count && zip(have, want).allSatisfy { contains($0, $1, fieldPath: fieldPath) }
            }
        default:
            return desired.semanticallyEquals(live) || Quantity.equal(desired, live)
        }
    }

    /// Where a desired object first differs from the live one (`spec.replicas`,
    /// `spec.template.spec.containers[name=app].image`), nil when the live object has it all.
    public static func difference(desired: JSONValue, live: JSONValue) -> String? {
        firstDifference(live, comparable(desired), fieldPath: [])?.joined(separator: ".")
    }

    /// The path of the first field of `desired` that `live` lacks or has another value for.
    static func firstDifference(_ live: JSONValue, _ desired: JSONValue, fieldPath: [String]) -> [String]? {
        switch desired {
        case .null:
            return nil
        case .object(let want):
            guard case .object(let have) = live else { return fieldPath }
            for (key, value) in want.sorted(by: { $0.key < $1.key }) {
                if value.isNull { continue }
                guard let actual = have[key] else {
                    // The server drops empty lists and maps (`args: []`).
                    if value.arrayValue?.isEmpty == true || value.objectValue?.isEmpty == true { continue }
                    return fieldPath + [key]
                }
                if let path = firstDifference(actual, value, fieldPath: fieldPath + [key]) { return path }
            }
            return nil
        case .array(let want):
            guard case .array(let have) = live else { return fieldPath }
            switch FieldTypes.builtin.listType(fieldPath) {
            case .map(let keys):
                for item in want {
                    let key = FieldTypes.builtin.keyObject(item, keys: keys)
                    guard let match = have.first(where: { FieldTypes.builtin.keyObject($0, keys: keys) == key }) else { return fieldPath }
                    if let path = firstDifference(match, item, fieldPath: fieldPath) {
                        // Name the item by its key: containers[name=app].image.
                        let label = keys.map { "\($0)=\(item[$0]?.stringValue ?? item[$0].map { "\($0)" } ?? "")" }.joined(separator: ",")
                        var named = path
                        if named.count >= fieldPath.count, let last = fieldPath.last {
                            named[fieldPath.count - 1] = "\(last)[\(label)]"
                        }
                        return named
                    }
                }
                return nil
            case .set:
                return want.allSatisfy { item in have.contains { $0.semanticallyEquals(item) } } ? nil : fieldPath
            case .atomic:
                guard want.count == have.count else { return fieldPath }
                for (i, (h, w)) in zip(have, want).enumerated() where firstDifference(h, w, fieldPath: fieldPath) != nil {
                    var named = fieldPath
                    if let last = named.last { named[named.count - 1] = "\(last)[\(i)]" }
                    return named
                }
                return nil
            }
        default:
            return desired.semanticallyEquals(live) || Quantity.equal(desired, live) ? nil : fieldPath
        }
    }

    /// A Secret's `stringData` is stored as base64 `data`; compare in that form.
    static func secretWithData(_ secret: JSONValue) -> JSONValue {
        guard let strings = secret["stringData"]?.objectValue else { return secret }
        var out = secret
        var data = secret["data"]?.objectValue ?? [:]
        for (k, v) in strings {
            if let s = v.stringValue { data[k] = .string(Data(s.utf8).base64EncodedString()) }
        }
        out["data"] = .object(data)
        out["stringData"] = nil
        return out
    }
}

/// Kubernetes resource quantities, which the server normalises (`cpu: 1` → `"1"`, `0.5` →
/// `"500m"`, `1024Mi` → `"1Gi"`): equal amounts are equal.
enum Quantity {
    static let suffixes: [(String, Double)] = [
        ("Ki", 0x1p10), ("Mi", 0x1p20), ("Gi", 0x1p30), ("Ti", 0x1p40), ("Pi", 0x1p50), ("Ei", 0x1p60),
        ("n", 1e-9), ("u", 1e-6), ("m", 1e-3), ("k", 1e3), ("M", 1e6), ("G", 1e9), ("T", 1e12), ("P", 1e15), ("E", 1e18),
    ]

    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        // Only a number against a string, or two strings where one has a unit: never two plain
        // strings that merely look numeric ("1.0" and "1" as image tags are different).
        switch (a, b) {
        case (.string(let x), .string(let y)):
            guard hasSuffix(x) || hasSuffix(y), let vx = value(x), let vy = value(y) else { return false }
            return close(vx, vy)
        case (.string(let x), _):
            guard let vx = value(x), let vy = b.doubleValue else { return false }
            return close(vx, vy)
        case (_, .string(let y)):
            guard let vx = a.doubleValue, let vy = value(y) else { return false }
            return close(vx, vy)
        default:
            return false
        }
    }

    static func hasSuffix(_ s: String) -> Bool { suffixes.contains { s.hasSuffix($0.0) } }

    static func value(_ s: String) -> Double? {
        for (suffix, scale) in suffixes where s.hasSuffix(suffix) {
            return Double(s.dropLast(suffix.count)).map { $0 * scale }
        }
        return Double(s)
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1e-9) }
}
