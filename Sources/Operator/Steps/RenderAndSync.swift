import Logging
import Manifests
import Sync

/// The render and sync steps of a pass, in that order, data flowing one way: the renderer turns a
/// revision into a rendered set, and the syncer applies the set, knowing nothing of git or of the
/// renderer. Any render error (a file that does not parse, a failing generator, a missing path)
/// stops here: nothing is applied and nothing is deleted, because a partial set must never drive
/// garbage collection.
struct RenderAndSync {
    let renderer: ManifestRenderer
    let syncer: Syncer
    let logger: Logger

    func run(revision: String, options: RenderOptions) async throws(SyncFailure) -> SyncResult {
        let rendered: RenderedSet
        do {
            rendered = try await renderer.render(revision: revision, options: options)
        } catch {
            logger.warning("revision not rendered", metadata: ["revision": "\(revision.prefix(7))", "error": "\(error.message)"])
            throw .render(error)
        }
        do {
            return try await syncer.sync(rendered)
        } catch {
            throw .sync(error)
        }
    }
}
