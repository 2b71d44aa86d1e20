import KubeRuntime
import Synchronization
import Primitives
import Testing

@Suite("Work queue and controller")
struct WorkQueueTests {
    @Test("a key waiting is queued once, and a key in process comes back after done")
    func deduplication() async {
        let q = WorkQueue<String>()
        await q.add("a")
        await q.add("a")
        await q.add("b")
        #expect(await q.depth == 2)
        let first = await q.next()
        #expect(first == "a")
        await q.add("a")
        #expect(await q.depth == 1, "a is being processed: not queued again yet")
        #expect(await q.next() == "b")
        await q.done("a")
        #expect(await q.next() == "a", "re-queued after done")
    }

    @Test("failures back off exponentially per key; forget resets")
    func backoff() async throws {
        let q = WorkQueue<String>(backoff: .init(base: .milliseconds(50), max: .seconds(1)))
        let clock = ContinuousClock()
        var gaps: [Duration] = []
        for _ in 0..<3 {
            let t0 = clock.now
            await q.addRateLimited("k")
            let k = await q.next()
            gaps.append(clock.now - t0)
            await q.done(k!)
        }
        #expect(gaps[0] >= .milliseconds(45))
        #expect(gaps[1] >= .milliseconds(95))
        #expect(gaps[2] >= .milliseconds(195))
        #expect(await q.retries("k") == 3)
        await q.forget("k")
        #expect(await q.retries("k") == 0)
    }

    @Test("shutdown wakes waiting workers with nil")
    func shutdown() async {
        let q = WorkQueue<Int>()
        async let waiting = q.next()
        try? await Task.sleep(for: .milliseconds(50))
        await q.shutdown()
        #expect(await waiting == nil)
    }

    @Test("a controller never reconciles one key concurrently, retries failures and honours requeueAfter")
    func controller() async throws {
        struct Stats {
            var running: [Int: Int] = [:]
            var maxConcurrent = 0
            var calls: [Int: Int] = [:]
            var succeeded: Set<Int> = []
        }
        let stats = Mutex(Stats())
        let controller = Controller<Int>(name: "test", workers: 4, queue: WorkQueue(backoff: .init(base: .milliseconds(10), max: .milliseconds(100)))) { key in
            let call = stats.withLock { s -> Int in
                s.running[key, default: 0] += 1
                s.maxConcurrent = max(s.maxConcurrent, s.running[key]!)
                s.calls[key, default: 0] += 1
                return s.calls[key]!
            }
            try await Task.sleep(for: .milliseconds(5))
            stats.withLock { $0.running[key]! -= 1 }
            if key % 3 == 0 && call <= 2 { throw CancellationError() }
            stats.withLock { _ = $0.succeeded.insert(key) }
            return key == 7 && call == 1 ? ReconcileResult(requeueAfter: .milliseconds(20)) : .done
        }
        let running = Task { try await controller.run() }
        for round in 0..<5 {
            for key in 0..<20 { await controller.queue.add(key) }
            if round % 2 == 0 { try await Task.sleep(for: .milliseconds(3)) }
        }
        let deadline = ContinuousClock.now + .seconds(10)
        while stats.withLock({ $0.succeeded.count }) < 20 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        running.cancel()
        _ = try? await running.value
        let s = stats.withLock { $0 }
        #expect(s.maxConcurrent == 1)
        #expect(s.succeeded.count == 20)
        #expect(s.calls[3, default: 0] >= 3, "failed twice, then succeeded")
        #expect(s.calls[7, default: 0] >= 2, "requeued after success")
    }
}
