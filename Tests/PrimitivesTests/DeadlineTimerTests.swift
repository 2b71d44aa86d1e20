import Foundation
import Primitives
import Synchronization
import Testing

@Suite("DeadlineTimer")
struct DeadlineTimerTests {
    @Test("callbacks fire in deadline order, whatever order they were added in; removed ones never fire")
    func orderAndRemoval() async throws {
        let timer = DeadlineTimer()
        let fired = Mutex<[Int]>([])
        let start = ContinuousClock.now
        // Added latest first: each addition is earlier than everything pending (the timer thread
        // must be woken for it).
        var ids: [Int: Int] = [:]
        for i in (1...8).reversed() {
            ids[i] = timer.add(after: .milliseconds(40 * i)) { fired.withLock { $0.append(i) } }
        }
        timer.remove(ids[3]!)
        timer.remove(ids[6]!)
        try await Task.sleep(for: .milliseconds(600))
        #expect(fired.withLock { $0 } == [1, 2, 4, 5, 7, 8])
        #expect(ContinuousClock.now - start >= .milliseconds(320))
    }

    @Test("a deadline is not met early, and thousands of removed entries do not delay a live one")
    func manyRemoved() async throws {
        let timer = DeadlineTimer()
        for _ in 0..<10_000 { timer.remove(timer.add(after: .seconds(20)) {}) }
        let firedAt = Mutex<ContinuousClock.Instant?>(nil)
        let start = ContinuousClock.now
        _ = timer.add(after: .milliseconds(100)) { firedAt.withLock { $0 = ContinuousClock.now } }
        try await Task.sleep(for: .milliseconds(800))
        let at = try #require(firedAt.withLock { $0 })
        #expect(at - start >= .milliseconds(100))
        #expect(at - start < .milliseconds(700))
    }
}
