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

    @Test("a cancelled waiter leaves at once; the work goes on for the others and the next caller joins it")
    func waiterLeaves() async throws {
        let flight = SingleFlight<String, Int>()
        let release = AsyncStream.makeStream(of: Void.self)
        let workCancelled = Mutex(false)
        let first = Task {
            try await flight.run("k") {
                for await _ in release.stream { break }
                workCancelled.withLock { $0 = Task.isCancelled }
                return 42
            }.value
        }
        while flight.inFlight == 0 { await Task.yield() }
        first.cancel()
        await #expect(throws: CancellationError.self) { try await first.value }
        #expect(flight.inFlight == 1, "the work is still running")
        let second = Task { try await flight.run("k") { 0 } }
        try await Task.sleep(for: .milliseconds(20))
        release.continuation.yield()
        let r = try await second.value
        #expect(r.value == 42 && !r.started, "the second caller joined the running work")
        #expect(workCancelled.withLock { $0 } == false)
    }

    @Test("with cancelWhenUnwanted the work is cancelled when its last waiter leaves, and a later call starts anew")
    func unwantedWorkCancelled() async throws {
        let flight = SingleFlight<String, Int>(cancelWhenUnwanted: true)
        let sawCancel = AsyncStream.makeStream(of: Bool.self)
        let waiters = (0..<3).map { _ in
            Task {
                try await flight.run("k") {
                    do { try await Task.sleep(for: .seconds(30)) } catch { sawCancel.continuation.yield(true) }
                    return 1
                }.value
            }
        }
        while flight.inFlight == 0 { await Task.yield() }
        try await Task.sleep(for: .milliseconds(20))
        waiters[0].cancel()
        waiters[1].cancel()
        #expect(flight.inFlight == 1, "one waiter left: the work goes on")
        waiters[2].cancel()
        for w in waiters { await #expect(throws: CancellationError.self) { try await w.value } }
        var it = sawCancel.stream.makeAsyncIterator()
        #expect(await it.next() == true, "the work saw its cancellation")
        #expect(flight.inFlight == 0)
        #expect(try await flight.run("k") { 5 }.value == 5)
    }
}
