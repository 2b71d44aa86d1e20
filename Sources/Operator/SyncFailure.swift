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
            case .parse, .path: return "ParseFailed"
            case .generation: return "GenerationFailed"
            case .source: return "GitFetchFailed"
            }
        case .sync(.plan(let e)):
            switch e.reason {
            case .forbidden: return "Forbidden"
            case .duplicate: return "ParseFailed"
            case .discovery: return "ApplyFailed"
            }
        case .sync(.inventory):
            return "ApplyFailed"
        }
    }

    public var description: String {
        switch self {
        case .render(let e): return e.message
        case .sync(let e): return e.description
        }
    }
}
