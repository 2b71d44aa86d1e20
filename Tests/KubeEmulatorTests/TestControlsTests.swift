import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Test controls: faults and request counts")
struct TestControlsTests {
    @Test("an injected status applies to matching requests, carries Retry-After, and runs out")
    func statusFault() async {
        let h = Harness()
        await h.namespace("a")
        h.server.injectFault(FaultRule(verb: "get", resource: "configmaps", action: .status(429, retryAfterSeconds: 2), times: 2))
        let first = await h.call("GET", "/api/v1/namespaces/a/configmaps/kube-root-ca.crt")
        #expect(first.status == 429)
        #expect(first.reason == "TooManyRequests")
        #expect(first.headers.contains { $0.0 == "Retry-After" && $0.1 == "2" })
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps").status == 200, "list does not match a get rule")
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/kube-root-ca.crt").status == 429)
        #expect(await h.call("GET", "/api/v1/namespaces/a/configmaps/kube-root-ca.crt").status == 200, "the rule was used up")
    }

    @Test("a 500 fault until cleared")
    func serverError() async {
        let h = Harness()
        let id = h.server.injectFault(FaultRule(resource: "namespaces", action: .status(500)))
        #expect(await h.call("GET", "/api/v1/namespaces").status == 500)
        #expect(await h.call("GET", "/api/v1/namespaces").reason == "InternalError")
        h.server.removeFault(id)
        #expect(await h.call("GET", "/api/v1/namespaces").status == 200)
    }

    @Test("latency delays a request")
    func latency() async {
        let h = Harness()
        h.server.injectFault(FaultRule(verb: "list", action: .latency(.milliseconds(200)), times: 1))
        let clock = ContinuousClock()
        let elapsed = await clock.measure { _ = await h.call("GET", "/api/v1/namespaces") }
        #expect(elapsed >= .milliseconds(200))
    }

    @Test("a dropped watch ends early; dropWatches closes open ones")
    func droppedWatches() async {
        let h = Harness()
        h.server.injectFault(FaultRule(verb: "watch", action: .dropWatch(after: .milliseconds(100)), times: 1))
        let dropped = await h.watch("/api/v1/namespaces?watch=true&resourceVersion=\(h.server.currentResourceVersion)")
        #expect(await dropped.next() == nil)
        let open = await h.watch("/api/v1/namespaces?watch=true&resourceVersion=\(h.server.currentResourceVersion)")
        #expect(h.server.openWatches == 1)
        h.server.dropWatches()
        #expect(await open.next() == nil)
        #expect(h.server.openWatches == 0)
    }

    @Test("requests are counted per verb and resource")
    func counts() async {
        let h = Harness()
        await h.namespace("a")
        h.server.resetRequestCounts()
        _ = await h.configMap("a", "c1")
        _ = await h.call("GET", "/api/v1/namespaces/a/configmaps/c1")
        _ = await h.call("GET", "/api/v1/namespaces/a/configmaps/c1")
        _ = await h.apply("/api/v1/namespaces/a/configmaps/c2", "{apiVersion: v1, kind: ConfigMap, metadata: {name: c2}}", manager: "m")
        #expect(h.server.requestCount(verb: "create", resource: "configmaps") == 1)
        #expect(h.server.requestCount(verb: "get", resource: "configmaps") == 2)
        #expect(h.server.requestCount(verb: "patch", resource: "configmaps") == 1)
        #expect(h.server.requestCount(verb: "list", resource: "configmaps") == 0)
    }
}
