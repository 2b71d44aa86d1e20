import Synchronization

/// A JSON value held as compact JSON text until first read, then as the decoded value: a manifest
/// rendered from the parse cache, or a desired object from a cached plan, costs a decode only when
/// something looks at its fields (a new plan, a write, a comparison with the live object), not
/// when a resync finds the live object at the version already verified. Text that no longer
/// decodes (it was written by `compactJSONBytes`, so never in practice) reads as null, which
/// applies nothing and compares unequal. Held inline by its owner (no allocation of its own).
public struct DeferredJSON: ~Copyable, Sendable {
    /// Public only because owners in other modules hold the value inline, and the compiler
    /// needs the enum's metadata there (a private one broke the debug build's linkage).
    public enum State: Sendable {
        case compact([UInt8])
        case decoded(JSONValue)
    }
    private let state: Mutex<State>

    public init(_ value: JSONValue) { state = Mutex(.decoded(value)) }
    public init(compact: [UInt8]) { state = Mutex(.compact(compact)) }

    public var value: JSONValue {
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
    public var isDecoded: Bool { state.withLock { if case .decoded = $0 { true } else { false } } }
}
