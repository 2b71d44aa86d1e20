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

/// The reconciler's life around its passes: the pause between them (one entry in the process's
/// heap timer, ended early by `wake()`), the wake-ups, and the release of what it owns.
extension InstanceReconciler {
    /// Another instance started or stopped declaring one of this instance's objects: sync again
    /// now, to report the conflict (or apply what is no longer contested).
    func claimsChanged() {
        claimsMoved = true
        wake()
    }

    /// A push webhook for the instance's repository and branch: poll the remote now.
    public func pushReceived() {
        pushed = true
        wake()
    }

    /// A registry webhook: run automation now, asking the registry itself for these images.
    public func imagesPushed(_ images: Set<String>) {
        rescan.formUnion(images)
        lastAutomation = nil
        wake()
    }

    /// Releases everything the instance owns: caches, work directory and mirror.
    func release() async {
        renderer?.release()
        try? FileManager.default.removeItem(atPath: workDirectory)
        metrics.destroy()
        env.metrics.setReady(settings.ref, nil)
        mirror = nil
        renderer = nil
        live = nil
        syncer = nil
    }

    func sleep(_ delay: Duration) async {
        if wakePending || stopped || Task.isCancelled {
            wakePending = false
            return
        }
        let pause = TimedPause()
        self.pause = pause
        await pause.wait(for: delay, slack: schedule.pauseSlack(delay, now: Date()))
        self.pause = nil
    }

    /// Ends the current pause now (or skips the next one if the loop is busy).
    func wake() {
        if let pause, pause.end() { return }
        wakePending = true
    }
}
