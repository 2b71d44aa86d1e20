import FlotillaAPI
import KubeModel

/// What a resync does with an object that differs from git although git did not change
/// (`spec.sync.driftCorrection`).
public enum DriftCorrection: String, Sendable, CaseIterable {
    /// Put git's values back (fields added by others are kept, as server-side apply does).
    case revert
    /// Also remove fields added with `kubectl edit`, `patch`, `label`, `annotate`, `scale`,
    /// client-side `apply` or a forced server-side apply (as Flux v2 does).
    case revertIncludingAddedFields
    /// Detect and report; touch nothing.
    case report
}

/// Fields added by hand, as server-side apply records them: `metadata.managedFields` entries of
/// kubectl's field managers (`kubectl-edit`, `kubectl-patch`, `kubectl-client-side-apply`,
/// `kubectl`, …) and of `before-first-apply`. Pure.
public enum AddedFields {
    public static func isHandEdit(manager: String) -> Bool {
        manager.hasPrefix("kubectl") || manager == "before-first-apply"
    }

    /// The hand-edit managers of `live` that own fields (status writes aside), sorted.
    public static func managers(of live: JSONValue) -> [String] {
        let entries = live["metadata"]?["managedFields"]?.arrayValue ?? []
        let names = entries.compactMap { entry -> String? in
            guard let manager = entry["manager"]?.stringValue, isHandEdit(manager: manager),
                  handEditScope(entry), !(entry["fieldsV1"]?.objectValue ?? [:]).isEmpty else { return nil }
            return manager
        }
        return Array(Set(names)).sorted()
    }

    /// `live`'s managedFields with every hand-edit entry folded into `manager`'s Apply entry: the
    /// next apply by `manager` then removes the fields it owns and no longer sends. Nil when
    /// `manager` has no Apply entry to fold into.
    public static func takenOver(_ live: JSONValue, by manager: String) -> JSONValue? {
        let entries = live["metadata"]?["managedFields"]?.arrayValue ?? []
        guard let mine = entries.firstIndex(where: { $0["manager"]?.stringValue == manager && $0["operation"] == "Apply" && ($0["subresource"]?.stringValue ?? "") == "" })
        else { return nil }
        var fields = entries[mine]["fieldsV1"] ?? .emptyObject
        var kept: [JSONValue] = []
        for (i, entry) in entries.enumerated() where i != mine {
            if let m = entry["manager"]?.stringValue, isHandEdit(manager: m), handEditScope(entry) {
                fields = union(fields, entry["fieldsV1"] ?? .emptyObject)
            } else {
                kept.append(entry)
            }
        }
        var merged = entries[mine]
        merged["fieldsV1"] = fields
        return .array([merged] + kept)
    }

    /// Hand edits of the object itself or of its replicas (`kubectl scale` writes `scale`), not
    /// of its status.
    static func handEditScope(_ entry: JSONValue) -> Bool {
        ["", "scale"].contains(entry["subresource"]?.stringValue ?? "")
    }

    /// The union of two `FieldsV1` sets (nested objects whose leaves are `{}`).
    static func union(_ a: JSONValue, _ b: JSONValue) -> JSONValue {
        guard case .object(var x) = a, case .object(let y) = b else { return a }
        for (k, v) in y { x[k] = x[k].map { union($0, v) } ?? v }
        return .object(x)
    }

    /// Drift correction is off for this object (`flotilla.dev/drift-correction: disabled` in git
    /// or in the cluster).
    public static func correctionDisabled(desired: JSONValue, live: JSONValue) -> Bool {
        [desired, live].contains { $0["metadata"]?["annotations"]?[Flotilla.driftCorrectionAnnotation]?.stringValue == "disabled" }
    }
}
