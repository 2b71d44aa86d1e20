import Primitives
import Synchronization
import Testing

final class Counter: Sendable {
    let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

@Suite("SingleFlight")
struct SingleFlightTests {
    @Test("concurrent calls for a key share one execution; other keys and later calls run their own")
    func shares() async throws {
        let flight = SingleFlight<String, Int>()
        let runs = Counter()
        let gate = AsyncStream.makeStream(of: Void.self)
        let results = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for _ in 0..<10 {
                group.addTask {
                    let r = try await flight.run("a") {
                        let n = runs.next()
                        for await _ in gate.stream { break }  // held until every caller has joined
                        return n
                    }
                    return (r.value, r.started)
                }
            }
            while flight.inFlight == 0 { await Task.yield() }
            try await Task.sleep(for: .milliseconds(50))
            gate.continuation.yield()
            return try await group.reduce(into: [(Int, Bool)]()) { $0.append($1) }
        }
        #expect(runs.value.withLock { $0 } == 1)
        #expect(Set(results.map(\.0)) == [1])
        #expect(results.filter(\.1).count == 1, "exactly one caller started the work")
        #expect(flight.inFlight == 0)
        #expect(try await flight.run("a") { runs.next() }.value == 2, "a later call runs anew")
        #expect(try await flight.run("b") { runs.next() }.value == 3)
    }

    @Test("an error reaches every waiter, and the next call tries again")
    func errors() async throws {
        struct Boom: Error {}
        let flight = SingleFlight<Int, Int>()
        await #expect(throws: Boom.self) { try await flight.run(1) { throw Boom() } }
        #expect(flight.inFlight == 0)
        #expect(try await flight.run(1) { 7 }.value == 7)
    }
}
