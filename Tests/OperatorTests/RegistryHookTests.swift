import FlotillaAPI
import Foundation
import GitTesting
import KubeClient
import KubeModel
import KubeTesting
import Sync
@testable import Operator
import Testing

/// A registry's push webhook makes automation scan at once, though it runs once an hour.
@Suite("Automation step: registry webhooks", .serialized)
struct RegistryHookTests {
    @Test("a Harbor push hook: automation scans the image at once and commits the new tag; a hook without the token wakes nobody")
    func harbor() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: AutomationStepTests.created)
        let image = "\(registry.host)/team/app"
        let app = AutomationStepTests.deployment("web", image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0")
        let up = try UpstreamRepo(files: ["apps/web.yaml": app])
        let initial = try up.head()
        try await withOperator(namespaces: ["team-a"]) { f in
            _ = try await f.client.create(.secrets, ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "harbor", "namespace": "team-a"],
                                                     "stringData": ["token": "harbor-secret"]])
            try await f.apply("apps", namespace: "team-a", spec: [
                "git": gitSpec(up.url, ["paths": ["apps"], "pollInterval": "1h"]),
                "registry": ["insecureHosts": [.string(registry.host)], "pollInterval": "1h", "receiver": ["type": "harbor", "secretRef": ["name": "harbor"]]],
                "automation": ["interval": "1h"],
            ])
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: initial)
            #expect(try await eventually { try await f.instance("apps", namespace: "team-a")?.status?.images?.lastScanTime != nil }, "the first scan ran")
            try registry.push("team/app", tag: "1.0.1", created: AutomationStepTests.created.addingTimeInterval(60))
            let body = Array(#"{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"resource_url":"\#(image):1.0.1"}]}}"#.utf8)
            let forged = await f.supervisor.receive(namespace: "team-a", receiver: "harbor", delivery: WebhookDelivery(headers: ["Authorization": "guess"], body: body))
            #expect(forged.status == 401 && forged.woken.isEmpty)
            let answer = await f.supervisor.receive(namespace: "team-a", receiver: "harbor", delivery: WebhookDelivery(headers: ["Authorization": "harbor-secret"], body: body))
            #expect(answer.status == 202 && answer.woken == [InstanceRef(namespace: "team-a", name: "apps")], "\(answer)")
            var head = initial
            #expect(try await eventually(timeout: .seconds(20)) {
                head = try up.head()
                return head != initial
            }, "automation committed at once, though it runs hourly and the tag list was an hour fresh")
            #expect(try up.show("\(head):apps/web.yaml").contains(image + ":1.0.1"))
        }
    }
}
