import Primitives
import Synchronization
import Testing

/// Shared counters for the tasks below (Mutex and Atomic cannot be captured as locals).
final class GateProbe: Sendable {
    let order = Mutex<[Int]>([])
    let queued = Atomic<Int>(0)
    let inside = Atomic<Int>(0)
    let most = Atomic<Int>(0)
}

@Suite("Gate")
struct GateTests {
    @Test("waiters get the permit in arrival order; with n permits at most n hold it at once")
    func fifoAndLimit() async {
        let gate = Gate(permits: 1)
        await gate.acquire()
        let p = GateProbe()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<5 {
                // Start them one after another so that arrival order is defined.
                group.addTask {
                    p.queued.add(1, ordering: .relaxed)
                    await gate.acquire()
                    p.order.withLock { $0.append(i) }
                    gate.release()
                }
                while p.queued.load(ordering: .relaxed) <= i { await Task.yield() }
                try? await Task.sleep(for: .milliseconds(20))
            }
            #expect(p.order.withLock { $0 }.isEmpty, "nobody passes while the permit is held")
            gate.release()
        }
        #expect(p.order.withLock { $0 } == [0, 1, 2, 3, 4])

        let limited = Gate(permits: 2)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    await limited.acquire()
                    let n = p.inside.add(1, ordering: .relaxed).newValue
                    p.most.max(n, ordering: .relaxed)
                    try? await Task.sleep(for: .milliseconds(2))
                    p.inside.subtract(1, ordering: .relaxed)
                    limited.release()
                }
            }
        }
        #expect(p.most.load(ordering: .relaxed) == 2)
    }
}
