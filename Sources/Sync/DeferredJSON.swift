import KubeModel
import Synchronization

/// A JSON value held as compact JSON text until first read, then as the decoded value: a desired
/// object from a cached plan costs a decode only when the sync looks at its fields (a write, a
/// comparison with the live object), not when the live object is known to be the version already
/// verified. Text that no longer decodes (it was written by `compactJSONBytes`, so never in
/// practice) reads as null, which applies nothing and compares unequal.
final class DeferredJSON: Sendable {
    private enum State {
        case compact([UInt8])
        case decoded(JSONValue)
    }
    private let state: Mutex<State>

    init(_ value: JSONValue) { state = Mutex(.decoded(value)) }
    init(compact: [UInt8]) { state = Mutex(.compact(compact)) }

    var value: JSONValue {
        state.withLock { s in
            switch s {
            case .decoded(let value):
                return value
            case .compact(let bytes):
                let value = (try? JSONValue.parse(bytes)) ?? .null
                s = .decoded(value)
                return value
            }
        }
    }

    /// Whether the value was decoded (for tests).
    var isDecoded: Bool { state.withLock { if case .decoded = $0 { true } else { false } } }
}
