import Logging
import Manifests

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

extension Syncer {
    /// Renders a revision and syncs it. Any render error (a file that does not parse, a failing
    /// generator, a missing path) stops here: nothing is applied and nothing is deleted, because a
    /// partial set must never drive garbage collection.
    public func sync(revision: String, renderer: ManifestRenderer, options: RenderOptions) async throws(SyncFailure) -> SyncResult {
        let rendered: RenderedSet
        do {
            rendered = try await renderer.render(revision: revision, options: options)
        } catch {
            logger.warning("revision not rendered", metadata: ["revision": "\(revision.prefix(7))", "error": "\(error.message)"])
            throw .render(error)
        }
        do {
            return try await sync(rendered)
        } catch {
            throw .sync(error)
        }
    }
}
