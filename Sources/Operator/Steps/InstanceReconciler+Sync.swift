import FlotillaAPI
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Manifests
import Primitives
import Sync

/// The sync step: render and apply a revision within the sync timeout and a sync slot, as the
/// instance's identity; then the Event and the sync tag.
extension InstanceReconciler {
    /// Renders and applies `head` within the instance's sync timeout, holding one of the
    /// operator's sync slots; then moves the sync tag.
    func sync(head: String, branch: String, mirror: GitMirror) async throws -> Outcome {
        let grant = try await authorize()
        let syncer = try await prepareSyncer(branch: branch, grant: grant)
        let step = RenderAndSync(renderer: self.renderer!, syncer: syncer, logger: logger)
        // A new revision is being applied: say so (kstatus) before the slot and the apply.
        if head != lastApplied { await writeStatus(.reconciling(head), head: head, reconciling: true) }
        let options = try await renderOptions(manifestGeneration: settings.manifestGeneration)
        let timeout = settings.syncTimeout
        env.metrics.waitingForSlot(1)
        await env.syncSlots.acquire()
        env.metrics.waitingForSlot(-1)
        let started = ContinuousClock.now
        let result: Result<SyncResult, SyncFailure>? = await withTaskGroup(of: Result<SyncResult, SyncFailure>?.self) { group in
            group.addTask {
                do throws(SyncFailure) {
                    return .success(try await step.run(revision: head, options: options))
                } catch {
                    return .failure(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
        env.syncSlots.release()
        lastSync = Date()
        if case .success(let r)? = result {
            metrics.synced(r, duration: ContinuousClock.now - started)
        } else {
            metrics.syncFailed(duration: ContinuousClock.now - started)
        }
        switch result {
        case nil:
            return .failure(ConditionReason.syncTimeout, "the sync of \(head.prefix(7)) did not finish within \(timeout)", .transient)
        case .failure(let failure)?:
            await env.events.record(await instanceObject(), type: .warning, reason: failure.reason, message: failure.description)
            return .sync(failure)
        case .success(let result)?:
            let previous = lastApplied
            lastApplied = head
            if previous != head {
                let commit = try? await mirror.commit(head)
                history.insert(SyncRecord(revision: head, subject: commit?.summary, author: commit?.author, time: KubeTime.string(),
                                          applied: result.count(.created) + result.count(.configured), unchanged: result.count(.unchanged),
                                          pruned: result.count(.deleted), failed: result.count(.failed) + result.count(.conflict)), at: 0)
                history = Array(history.prefix(SyncRecord.kept))
                await env.events.record(await instanceObject(), type: .normal, reason: "Synced",
                                        message: "Applied revision \(head.prefix(12)): \(result.count(.created)) created, \(result.count(.configured)) configured, \(result.count(.deleted)) deleted")
                if !settings.source.readonly {
                    do {
                        try await mirror.moveTag(settings.tag, to: head, message: "Sync pointer")
                    } catch {
                        logger.warning("sync tag not moved", metadata: ["tag": "\(settings.tag)", "error": "\(error.message)"])
                    }
                }
            }
            lastCounts = result
            await observe(result)
            return .result(result)
        }
    }

    /// The FluxInstance as a JSON object for events (identity fields only).
    func instanceObject() async -> JSONValue {
        var object: JSONValue = ["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                                 "metadata": ["name": .string(settings.ref.name), "namespace": .string(settings.ref.namespace)]]
        if let uid = settings.uid {
            object["metadata"]?["uid"] = .string(uid)
        } else if let uid = try? await env.client.get(FluxInstance.resourceType, name: settings.ref.name, namespace: settings.ref.namespace)["metadata"]?["uid"] {
            object["metadata"]?["uid"] = uid
        }
        return object
    }
}
