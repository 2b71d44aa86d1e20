import Foundation
import Synchronization

/// Fault injection for the process-fault suite (`Tests/ReliabilityTests`): with
/// `FLOTILLA_CRASH_AT=<point>:<n>` in its environment, the process kills itself with SIGKILL the
/// n-th time it passes `<point>`, so a test can stop it at an exact place. Outside tests the
/// variable is unset and `pass` does nothing but compare a nil.
///
/// Points: `apply` (an object was applied), `prune` (an object was deleted), `inventory` (an
/// inventory is about to be saved), `push` (a commit was pushed; its status is not yet written).
public enum CrashPoint {
    static let target: (point: String, count: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["FLOTILLA_CRASH_AT"], let colon = spec.lastIndex(of: ":"),
              let n = Int(spec[spec.index(after: colon)...]), n > 0 else { return nil }
        return (String(spec[..<colon]), n)
    }()
    static let passes = Atomic<Int>(0)

    @inline(__always)
    public static func pass(_ point: String) {
        guard let target, target.point == point else { return }
        if passes.wrappingAdd(1, ordering: .relaxed).newValue == target.count { kill(getpid(), SIGKILL) }
    }
}
