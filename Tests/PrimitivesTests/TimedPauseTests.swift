import Primitives
import Testing

@Suite("TimedPause")
struct TimedPauseTests {
    @Test("a pause ends when its time has passed")
    func timesOut() async {
        let timer = DeadlineTimer()
        let start = ContinuousClock.now
        await TimedPause(timer: timer).wait(for: .milliseconds(150))
        #expect(ContinuousClock.now - start >= .milliseconds(150))
    }

    @Test("end() ends a pause long before its time, once; a later end() says it had ended")
    func endedEarly() async throws {
        let timer = DeadlineTimer()
        let pause = TimedPause(timer: timer)
        let start = ContinuousClock.now
        async let waited: Void = pause.wait(for: .seconds(60))
        try await Task.sleep(for: .milliseconds(100))
        #expect(pause.end())
        await waited
        #expect(ContinuousClock.now - start < .seconds(30))
        #expect(!pause.end())
    }

    @Test("an end() before the wait starts makes the wait return at once")
    func endedBeforeWait() async {
        let pause = TimedPause(timer: DeadlineTimer())
        #expect(pause.end())
        let start = ContinuousClock.now
        await pause.wait(for: .seconds(60))
        #expect(ContinuousClock.now - start < .seconds(30))
    }

    @Test("many pauses ended from other tasks while they start: every wait returns")
    func racingEnds() async {
        let timer = DeadlineTimer()
        let start = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<500 {
                let pause = TimedPause(timer: timer)
                group.addTask { await pause.wait(for: .seconds(120)) }
                group.addTask { pause.end() }
            }
        }
        // A lost end() leaves its wait pending for two minutes.
        #expect(ContinuousClock.now - start < .seconds(60))
    }
}
