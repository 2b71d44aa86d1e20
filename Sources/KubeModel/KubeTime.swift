import Foundation

/// Kubernetes time stamps (`metav1.Time`): RFC 3339 in UTC, whole seconds. A value-type format
/// style, so no ICU formatter is built per call (an Event, a status).
public enum KubeTime {
    static let format = Date.ISO8601FormatStyle()

    public static func string(_ date: Date = Date()) -> String { date.formatted(format) }

    public static func date(_ text: String) -> Date? { try? format.parse(text) }
}
