import ArgumentParser
import Foundation
import Logging
import Operator

/// How log lines are written: `text` for people (one line per event, `key=value` metadata) or
/// `json` for log pipelines (one JSON object per line).
enum LogFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case text, json
}

/// Installs the process's log handler (once, before the first logger is made). Every line gets
/// the reconcile pass's id and revision when it is logged inside one (`ReconcileContext`).
func bootstrapLogging(_ format: LogFormat) {
    LoggingSystem.bootstrap({ label, provider in
        switch format {
        case .text: return StreamLogHandler.standardOutput(label: label, metadataProvider: provider)
        case .json: return JSONLogHandler(label: label, metadataProvider: provider)
        }
    }, metadataProvider: ReconcileContext.metadataProvider)
}

/// One JSON object per line on stdout: `time`, `level`, `logger`, `message`, `source`, then the
/// metadata (handler, provider, call site; the call site wins).
struct JSONLogHandler: LogHandler {
    let label: String
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .info

    init(label: String, metadataProvider: Logger.MetadataProvider?) {
        self.label = label
        self.metadataProvider = metadataProvider
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let explicit { all.merge(explicit) { _, new in new } }
        var object: [String: Any] = [:]
        for (key, value) in all { object[key] = Self.plain(value) }
        object["time"] = Date().formatted(.iso8601)
        object["level"] = level.rawValue
        object["logger"] = label
        object["message"] = message.description
        object["source"] = source
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        data.append(0x0A)
        // One write per line: lines of concurrent tasks never interleave.
        FileHandle.standardOutput.write(data)
    }

    static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): return s
        case .stringConvertible(let c): return c.description
        case .array(let items): return items.map(plain)
        case .dictionary(let d): return d.mapValues(plain)
        }
    }
}
