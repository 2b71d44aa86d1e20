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

/// The loop's pause between passes: one heap timer entry, ended early by `wake()`.
extension InstanceReconciler {
    func sleep(_ delay: Duration) async {
        if wakePending || stopped || Task.isCancelled {
            wakePending = false
            return
        }
        sleepToken += 1
        let token = sleepToken
        await withCheckedContinuation { continuation in
            sleeper = continuation
            sleepTimer = DeadlineTimer.shared.add(after: delay) { [weak self] in
                Task { await self?.timerFired(token) }
            }
        }
    }

    func timerFired(_ token: Int) {
        if token == sleepToken && sleeper != nil { endSleep() }
    }

    func endSleep() {
        if let sleepTimer { DeadlineTimer.shared.remove(sleepTimer) }
        sleepTimer = nil
        sleeper?.resume()
        sleeper = nil
    }

    /// Ends the current pause now (or skips the next one if the loop is busy).
    func wake() {
        if sleeper != nil { endSleep() } else { wakePending = true }
    }
}
