import Primitives
import Testing

@Suite("Backoff")
struct BackoffTests {
    @Test("doubles from the base, stops at the maximum, never below the minimum")
    func doubling() {
        let b = Backoff(base: .seconds(2), max: .seconds(60), min: .milliseconds(500))
        #expect((0..<7).map { b.delay(attempt: $0) } == [.seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60), .seconds(60)])
        #expect(b.delay(attempt: 1_000) == .seconds(60), "no overflow")
        #expect(b.delay(attempt: -1) == .seconds(2))
        #expect(Backoff(base: .milliseconds(100), max: .milliseconds(300), min: .seconds(1)).delay(attempt: 0) == .seconds(1))
    }

    @Test("jitter spreads the delay by the drawn factor, within its range")
    func jitter() {
        let b = Backoff(base: .milliseconds(100), max: .seconds(5), jitter: 0.5...1.5)
        #expect(b.delay(attempt: 2, factor: 0.5) == .milliseconds(200))
        #expect(b.delay(attempt: 10, factor: 1.5) == .milliseconds(7_500))
        for _ in 0..<100 {
            let d = b.delay(attempt: 3)
            #expect(d >= .milliseconds(400) && d <= .milliseconds(1_200))
        }
    }
}
