import FlotillaAPI
import Manifests
import Sync

/// Why a revision was not synced, with the condition reason the FluxInstance status shows.
public enum SyncFailure: Error, Sendable, CustomStringConvertible {
    /// The revision could not be rendered: nothing was sent to the API server.
    case render(RenderError)
    /// The revision was refused, or the inventory could not be read or written.
    case sync(SyncError)

    /// The kstatus condition reason (`ParseFailed`, `GenerationFailed`, `Forbidden`, …).
    public var reason: String {
        switch self {
        case .render(let e):
            switch e.kind {
            case .parse, .path: return ConditionReason.parseFailed
            case .generation: return ConditionReason.generationFailed
            case .decryption: return ConditionReason.decryptionFailed
            case .source: return ConditionReason.gitFetchFailed
            }
        case .sync(.plan(let e)):
            switch e.reason {
            case .forbidden: return ConditionReason.forbidden
            case .duplicate: return ConditionReason.parseFailed
            case .discovery: return ConditionReason.applyFailed
            }
        case .sync(.inventory):
            return ConditionReason.applyFailed
        }
    }

    /// What is in git (a file, a generator, an object the identity may not write) needs a
    /// person; a git read, a discovery or an inventory write may clear by itself.
    public var failureClass: FailureClass {
        switch self {
        case .render(let e): return e.kind == .source ? .transient : .stalled
        case .sync(.plan(let e)): return e.reason == .discovery ? .transient : .stalled
        case .sync(.inventory): return .transient
        }
    }

    public var description: String {
        switch self {
        case .render(let e): return e.message
        case .sync(let e): return e.description
        }
    }
}
