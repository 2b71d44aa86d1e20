import Dispatch
import Foundation
@testable import GitSource
import Synchronization
import Testing

@Suite("Git threads")
struct GitThreadsTests {
    @Test("every operation gets a thread at once (no queue behind a hung one); after the burst at most maxIdle threads stay")
    func burstThenFewIdle() async throws {
        let threads = GitThreads(maxIdle: 2)
        let started = Atomic<Int>(0)
        let release = DispatchSemaphore(value: 0)
        let finished = Atomic<Int>(0)
        for _ in 0..<6 {
            threads.submit {
                started.add(1, ordering: .relaxed)
                release.wait()
                finished.add(1, ordering: .relaxed)
            }
        }
        // All six run together: none waits for another to finish.
        #expect(await within(.seconds(10)) { started.load(ordering: .relaxed) == 6 })
        #expect(threads.threadCount == 6)
        for _ in 0..<6 { release.signal() }
        #expect(await within(.seconds(10)) { finished.load(ordering: .relaxed) == 6 && threads.threadCount == 2 })
        #expect(threads.idleCount == 2)
        // The idle ones take the next operations.
        let again = Atomic<Int>(0)
        let name = Mutex("")
        threads.submit {
            let text = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
            name.withLock { $0 = text.trimmingCharacters(in: .newlines) }
            again.add(1, ordering: .relaxed)
        }
        #expect(await within(.seconds(10)) { again.load(ordering: .relaxed) == 1 })
        #expect(threads.threadCount == 2)
        #expect(name.withLock { $0 } == "flotilla-git", "named, so that top -H tells git work apart")
    }
}

/// Polls `condition` until it holds or `limit` passes.
private func within(_ limit: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
