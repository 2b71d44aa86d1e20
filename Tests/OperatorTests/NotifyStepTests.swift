import Crypto
import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Sync
@testable import Operator
import Testing

/// Notifications from a real sync to loopback endpoints that record what they receive.
@Suite("Notify step", .serialized)
struct NotifyStepTests {
    func secret(_ f: OperatorFixture, _ name: String, _ data: [String: String]) async throws {
        _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": .string(name), "namespace": "team-a"],
                                                 "stringData": .object(data.mapValues { .string($0) })])
    }

    @Test("applied, failed and recovered reach Slack and a signed generic endpoint, each only with the events it asked for; a failing endpoint is an Event and never delays a sync")
    func events() async throws {
        let slack = try WebhookSink(), generic = try WebhookSink(), dead = try WebhookSink(mode: "fail")
        defer { slack.stop(); generic.stop(); dead.stop() }
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"], configure: { $0.notifications = NotificationDispatcher(allowPrivateNetworks: true) }) { f in
            try await secret(f, "slack", ["address": slack.url])
            try await secret(f, "generic", ["address": generic.url, "token": "hmac-key"])
            try await secret(f, "dead", ["address": dead.url])
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "notifications": [
                ["type": "slack", "secretRef": ["name": "slack"], "events": ["SyncFailed", "Recovered"]],
                ["type": "generic", "secretRef": ["name": "generic"]],
                ["type": "discord", "secretRef": ["name": "dead"], "events": ["Applied"]],
            ]])
            let first = try up.head()
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: first)
            #expect(try await eventually { generic.requests().contains { $0.body.contains("\"event\":\"Applied\"") } })
            let applied = try #require(generic.requests().first { $0.body.contains("\"event\":\"Applied\"") })
            let mac = HMAC<SHA256>.authenticationCode(for: Array(applied.body.utf8), using: SymmetricKey(data: Array("hmac-key".utf8)))
            #expect(applied.headers["X-Signature"] == "sha256=" + mac.map { String(format: "%02x", $0) }.joined(), "signed with the Secret's token")
            let json = try JSONValue.parse(Array(applied.body.utf8))
            #expect(json["instance"]?["name"] == "apps" && json["revision"] == .string(first) && json["message"] == "1 created, 0 configured, 0 deleted")

            let broken = try up.commit(["a.yaml": "kind: [unclosed"], message: "broken")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "ParseFailed")
            #expect(try await eventually { slack.requests().contains { $0.body.contains("SyncFailed") && $0.body.contains("a.yaml") } })
            let fixed = try up.commit(["a.yaml": cm("a", value: "2")], message: "fixed")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: fixed)
            #expect(try await eventually { slack.requests().contains { $0.body.contains("Recovered") } })
            #expect(!slack.requests().contains { $0.body.contains("team-a/apps Applied") }, "Slack asked only for failures and recoveries")
            #expect(slack.requests().allSatisfy { (try? JSONValue.parse(Array($0.body.utf8)))?["text"] != nil }, "Slack's incoming-webhook payload")
            _ = broken

            // The dead endpoint was tried and retried, then became an Event; syncs went on meanwhile.
            #expect(try await eventually(timeout: .seconds(30)) {
                try await f.client.list(.events, namespace: "team-a").items.contains {
                    $0["reason"] == "NotificationFailed" && $0["message"]?.stringValue?.contains("HTTP 500") == true
                }
            })
            #expect(dead.requests().count >= 2, "retried")
            let all = slack.requests().map(\.body) + generic.requests().map(\.body)
            #expect(!all.contains { $0.contains("hmac-key") }, "no secret in a payload")
        }
    }

    @Test("attacker: a tenant's notification address on loopback or the metadata server is refused (an Event says why), nothing is sent")
    func privateAddressesRefused() async throws {
        let sink = try WebhookSink()
        defer { sink.stop() }
        let up = try UpstreamRepo(files: ["a.yaml": cm("a")])
        try await withOperator(namespaces: ["team-a"]) { f in
            try await secret(f, "local", ["address": sink.url])
            try await secret(f, "metadata", ["address": "http://169.254.169.254/latest/meta-data/"])
            try await f.apply("apps", namespace: "team-a", spec: ["git": gitSpec(up.url), "notifications": [
                ["type": "generic", "secretRef": ["name": "local"]], ["type": "generic", "secretRef": ["name": "metadata"]]]])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: try up.head())
            var messages: [String] = []
            #expect(try await eventually(timeout: .seconds(20)) {
                messages = try await f.client.list(.events, namespace: "team-a").items.filter { $0["reason"] == "NotificationFailed" }
                    .compactMap { $0["message"]?.stringValue }
                return messages.contains { $0.contains("127.0.0.1") } && messages.contains { $0.contains("169.254.169.254") }
            }, "\(messages)")
            #expect(messages.allSatisfy { $0.contains("private network") })
            #expect(sink.requests().isEmpty)
        }
    }

    @Test("a hung endpoint costs each attempt its deadline, then an Event; the dispatcher keeps sending to a live one meanwhile")
    func hungEndpoint() async throws {
        let hung = try WebhookSink(mode: "hang"), live = try WebhookSink()
        defer { hung.stop(); live.stop() }
        let d = NotificationDispatcher(allowPrivateNetworks: true, timeout: .milliseconds(300))
        let running = Task { await d.run() }
        defer { running.cancel() }
        let failures = AsyncStream.makeStream(of: String.self)
        let n = { (i: Int) in Notification(instance: InstanceRef(namespace: "a", name: "b"), kind: .applied, revision: "\(i)", message: "m", time: Date()) }
        d.enqueue(.init(address: hung.url, provider: .generic, notification: n(0), token: nil) { failures.continuation.yield($0) })
        let started = ContinuousClock.now
        d.enqueue(.init(address: live.url, provider: .slack, notification: n(1), token: nil) { _ in })
        #expect(try await eventually(timeout: .seconds(5)) { live.requests().count == 1 }, "the live endpoint is not held up by the hung one")
        #expect(ContinuousClock.now - started < .seconds(3))
        var it = failures.stream.makeAsyncIterator()
        let reason = await it.next()
        #expect(reason?.contains("not delivered after 4 attempts") == true, "\(reason ?? "")")
        #expect(hung.requests().count == 4, "each attempt reached it and timed out")
    }

    @Test("decisions: failures, held prunes and recoveries from status changes; private addresses; a bounded queue for a dead endpoint")
    func decisions() {
        let failed = Outcome.failure(ConditionReason.parseFailed, "a.yaml:1: bad", .stalled)
        let synced = Outcome.synced("abc")
        #expect(Notification.transition(from: synced, to: failed) == .syncFailed)
        #expect(Notification.transition(from: failed, to: failed) == nil, "the same failure again is not news")
        #expect(Notification.transition(from: failed, to: synced) == .recovered)
        #expect(Notification.transition(from: synced, to: synced) == nil)
        #expect(Notification.transition(from: nil, to: synced) == nil)
        for ip in ["127.0.0.1", "10.1.2.3", "172.20.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1"] {
            #expect(AddressPolicy.isPrivate(ip), "\(ip)")
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:4860::8888"] { #expect(!AddressPolicy.isPrivate(ip), "\(ip)") }
        let d = NotificationDispatcher(allowPrivateNetworks: true, capacity: 100, perAddress: 5)
        for i in 0..<20 {
            d.enqueue(.init(address: "http://127.0.0.1:1/x", provider: .generic,
                            notification: Notification(instance: InstanceRef(namespace: "a", name: "b"), kind: .applied, revision: "\(i)", message: "m", time: Date()), token: nil) { _ in })
        }
        #expect(d.counts.waiting == 5 && d.counts.dropped == 15, "a dead endpoint holds at most perAddress deliveries")
        let n = Notification(instance: InstanceRef(namespace: "a", name: "b"), kind: .applied, revision: "r", message: "m", time: Date())
        let e = NotificationDispatcher(allowPrivateNetworks: true)
        e.enqueue(.init(address: "http://h/x", provider: .slack, notification: n, token: nil) { _ in })
        e.enqueue(.init(address: "http://h/x", provider: .slack, notification: n, token: nil) { _ in })
        #expect(e.counts.waiting == 1, "deduplicated")
    }
}
