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

    @Test("a deadline with slack fires early only when the thread is awake for another; one without never does")
    func slack() async throws {
        let timer = DeadlineTimer()
        let fired = Mutex<[Int: ContinuousClock.Instant]>([:])
        let start = ContinuousClock.now
        // 1 is due at 100 ms; 2 at 300 ms with 250 ms of slack fires with it; 3 at 300 ms without
        // slack waits for its own time; 4 at 900 ms with 250 ms of slack is out of reach of both.
        _ = timer.add(after: .milliseconds(100)) { fired.withLock { $0[1] = .now } }
        _ = timer.add(after: .milliseconds(300), slack: .milliseconds(250)) { fired.withLock { $0[2] = .now } }
        _ = timer.add(after: .milliseconds(300)) { fired.withLock { $0[3] = .now } }
        _ = timer.add(after: .milliseconds(900), slack: .milliseconds(250)) { fired.withLock { $0[4] = .now } }
        try await Task.sleep(for: .milliseconds(1300))
        let at = fired.withLock { $0 }.mapValues { $0 - start }
        let one = try #require(at[1]), two = try #require(at[2]), three = try #require(at[3]), four = try #require(at[4])
        #expect(one >= .milliseconds(100))
        #expect(two < .milliseconds(300), "fired with the first, in its slack")
        #expect(two >= one)
        #expect(three >= .milliseconds(300))
        #expect(four >= .milliseconds(650), "never earlier than its slack allows")
    }

    @Test("at most maxEarly deadlines fire early with one that is due; the rest wait for their time")
    func earlyCap() async throws {
        let timer = DeadlineTimer()
        let fired = Mutex<[ContinuousClock.Instant]>([])
        let start = ContinuousClock.now
        _ = timer.add(after: .milliseconds(100)) {}
        for _ in 0..<40 {
            _ = timer.add(after: .milliseconds(1500), slack: .milliseconds(1450)) { fired.withLock { $0.append(.now) } }
        }
        try await Task.sleep(for: .milliseconds(2000))
        let at = fired.withLock { $0 }.map { $0 - start }
        #expect(at.count == 40)
        #expect(at.filter { $0 < .milliseconds(1500) }.count == DeadlineTimer.maxEarly, "\(at)")
    }
}
