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
        Insecure.SHA1.hash(data: object.jsonBytes()).map { String(format: "%02x", $0) }.joined()
    }

    public static func isUpToDate(desired: JSONValue, live: JSONValue, checksum: String) -> Bool {
        guard live["metadata"]?["annotations"]?["fluxcd.io/sync-checksum"]?.stringValue == checksum else { return false }
        var wanted = desired
        wanted["status"] = nil
        if desired["kind"]?.stringValue == "Secret", desired["apiVersion"]?.stringValue == "v1" {
            wanted = secretWithData(wanted)
        }
        return contains(live, wanted, fieldPath: [])
    }

    /// Whether `live` has every field of `desired` with an equal value. Nulls in `desired` are
    /// "unset" and match anything; keyed lists match items by key, other lists by position.
    public static func contains(_ live: JSONValue, _ desired: JSONValue, fieldPath: [String]) -> Bool {
        switch desired {
        case .null:
            return true
        case .object(let want):
            guard case .object(let have) = live else { return false }
            for (key, value) in want {
                if value.isNull { continue }
                guard let actual = have[key], contains(actual, value, fieldPath: fieldPath + [key]) else { return false }
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
            return desired.semanticallyEquals(live)
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
