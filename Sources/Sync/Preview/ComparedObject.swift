import FlotillaAPI
import KubeModel

/// An object as `flotilla diff` shows it, like `kubectl diff`: what the server sets
/// (managedFields, status, resourceVersion, uid, generation, creationTimestamp), Flotilla's
/// checksum annotation and kubectl's last-applied copy left out, Secret values masked. Pure.
public enum ComparedObject {
    static let serverSet = ["managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"]

    public static func normalized(_ object: JSONValue) -> JSONValue {
        var out = object
        out["status"] = nil
        for key in serverSet { out["metadata"]?[key] = nil }
        if var annotations = out["metadata"]?["annotations"]?.objectValue {
            annotations[FluxAnnotations.syncChecksum] = nil
            // kubectl's copy of what it last applied: a Secret's values in clear (base64).
            annotations["kubectl.kubernetes.io/last-applied-configuration"] = nil
            out["metadata"]?["annotations"] = annotations.isEmpty ? nil : .object(annotations)
        }
        return out
    }

    static func isSecret(_ o: JSONValue?) -> Bool { o?["kind"] == "Secret" && o?["apiVersion"] == "v1" }

    /// Masks the values of a Secret on both sides as kubectl does: `***` where they are equal,
    /// `*** (before)` and `*** (after)` where they differ.
    public static func masked(live: JSONValue?, merged: JSONValue?) -> (JSONValue?, JSONValue?) {
        guard isSecret(live) || isSecret(merged) else { return (live, merged) }
        let before = live?["data"]?.objectValue ?? [:], after = merged?["data"]?.objectValue ?? [:]
        func mask(_ values: [String: JSONValue], _ other: [String: JSONValue], _ label: String) -> JSONValue {
            .object(values.reduce(into: [:]) { out, kv in
                out[kv.key] = .string(other[kv.key].map { $0 == kv.value } ?? true ? "***" : "*** (\(label))")
            })
        }
        var l = live, m = merged
        if live?["data"] != nil { l?["data"] = mask(before, after, "before") }
        if merged?["data"] != nil { m?["data"] = mask(after, before, "after") }
        // A Secret seen only on one side keeps its keys, never its values.
        if live == nil, merged?["data"] != nil { m?["data"] = .object(after.mapValues { _ in "***" }) }
        if merged == nil, live?["data"] != nil { l?["data"] = .object(before.mapValues { _ in "***" }) }
        let hidden = { (o: JSONValue?) -> JSONValue? in o?["stringData"]?.objectValue.map { JSONValue.object($0.mapValues { _ in "***" }) } }
        if let strings = hidden(l) { l?["stringData"] = strings }
        if let strings = hidden(m) { m?["stringData"] = strings }
        return (l, m)
    }

    /// `apps.v1.Deployment.team-a.web`, the file name kubectl diff uses.
    public static func fileName(_ object: JSONValue) -> String {
        let apiVersion = (object["apiVersion"]?.stringValue ?? "").replacingAll("/", with: ".")
        let namespace = object["metadata"]?["namespace"]?.stringValue
        return [apiVersion, object["kind"]?.stringValue ?? "", namespace, object["metadata"]?["name"]?.stringValue ?? ""]
            .compactMap { $0 }.joined(separator: ".")
    }

    /// The unified diff of one object (empty when nothing changes).
    public static func diff(live: JSONValue?, merged: JSONValue?) -> String {
        let (l, m) = masked(live: live.map(normalized), merged: merged.map(normalized))
        let name = fileName(merged ?? live ?? .null)
        let diff = UnifiedDiff.make(old: l.map { YAMLWriter.write($0) } ?? "", new: m.map { YAMLWriter.write($0) } ?? "",
                                    oldName: "live/\(name)", newName: "merged/\(name)")
        return diff.isEmpty ? "" : "diff -u -N live/\(name) merged/\(name)\n" + diff
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
