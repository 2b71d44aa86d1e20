import Foundation
import Logging

/// What every log line of a reconcile pass carries besides the instance: the pass's id and the
/// revision it works on, as task-local values read by a `Logger.MetadataProvider` (so the syncer,
/// renderer and registry client, which hold loggers of their own, tag their lines too).
public enum ReconcileContext {
    @TaskLocal public static var id: String?
    @TaskLocal public static var revision: String?

    /// Install with `LoggingSystem.bootstrap(_:metadataProvider:)`.
    public static let metadataProvider = Logger.MetadataProvider {
        var metadata: Logger.Metadata = [:]
        if let id { metadata["reconcile"] = .string(id) }
        if let revision { metadata["revision"] = .string(String(revision.prefix(12))) }
        return metadata
    }

    /// A short id, unique enough to find one pass's lines (8 hex digits).
    static func newID() -> String { id(UInt32.random(in: .min ... .max)) }

    /// `number` as 8 lower-case hex digits. Not `String(format:)`: Foundation's formatter was 3 %
    /// of an idle operator's CPU (an id per pass).
    static func id(_ number: UInt32) -> String {
        let hex = String(number, radix: 16)
        return hex.utf8.count == 8 ? hex : String(repeating: "0", count: 8 - hex.utf8.count) + hex
    }
}
