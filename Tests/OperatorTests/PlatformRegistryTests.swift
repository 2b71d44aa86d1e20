import FlotillaAPI
import Foundation
import GitTesting
import ImageAutomation
import KubeClient
import KubeModel
import KubeTesting
@testable import Operator
import Testing

/// Image automation on an ECR image with the operator pod's platform identity (moto's EC2 metadata
/// and ECR; Debian's docker-registry under the ECR host name), lent by the install to one
/// namespace only.
@Suite("Automation step: platform registry credentials", .serialized)
struct PlatformRegistryTests {
    @Test("ECR through instance metadata: scans and automation work end to end; a tenant in a namespace the install does not lend them to is refused, never served the cached tags")
    func ecrEndToEnd() async throws {
        let moto = try motoServer()
        defer { moto.stop() }
        let host = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
        let registry = try LocalRegistry(auth: .basic(user: "AWS", password: "123456789012-auth-token"))
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: AutomationStepTests.created)
        try registry.push("team/app", tag: "1.0.1", created: AutomationStepTests.created.addingTimeInterval(60))
        let image = "\(host)/team/app"
        let app = AutomationStepTests.deployment("web", image: image + ":1.0.0", annotations: "    fluxcd.io/automated: \"true\"\n    fluxcd.io/tag.app: semver:~1.0")
        let upA = try UpstreamRepo(files: ["apps/web.yaml": app])
        let upB = try UpstreamRepo(files: ["apps/web.yaml": app])
        let initialB = try upB.head()
        let endpoints = [host: "http://" + registry.host]
        try await withOperator(namespaces: ["team-a", "team-b"], configure: { env in
            env.registryCache = RegistryCache(client: RegistryClient(limits: HostRateLimits(), endpoints: endpoints))
            env.platformCredentials = PlatformCredentials(policy: PlatformCredentialPolicy(providers: [.aws], namespaces: ["team-a"]),
                                                          environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": moto.url, "AWS_ENDPOINT_URL_ECR": moto.url])
        }) { f in
            let spec: (UpstreamRepo) -> JSONValue = { up in
                ["git": gitSpec(up.url, ["paths": ["apps"]]), "registry": ["pollInterval": "1s"], "automation": ["interval": "1s"]]
            }
            try await f.apply("apps", namespace: "team-a", spec: spec(upA))
            var head = try upA.head()
            #expect(try await eventually(timeout: .seconds(30)) {
                head = try upA.head()
                return try upA.show("\(head):apps/web.yaml").contains(image + ":1.0.1")
            }, "automation committed the newer ECR tag")
            _ = try await f.waitFor("apps", namespace: "team-a", reason: "Synced", revision: head)
            let deployed = try await f.client.get(.deployments, name: "web", namespace: "team-a")
            #expect(deployed["spec"]?["template"]?["spec"]?["containers"]?.arrayValue?.first?["image"] == .string(image + ":1.0.1"))

            // Attacker: the same image from a namespace the install does not lend the platform
            // identity to. The cache holds the tags team-a's login read; team-b gets none of them.
            try await f.apply("apps", namespace: "team-b", spec: spec(upB))
            var images: ImagesStatus?
            #expect(try await eventually(timeout: .seconds(30)) {
                images = try await f.instance("apps", namespace: "team-b")?.status?.images
                return images?.error != nil
            })
            #expect(images?.error?.contains("RegistryCredentialsUnavailable") == true && images?.error?.contains("namespace team-b") == true, "\(String(describing: images))")
            #expect(images?.workloads?.first?.latest == nil, "no tag from team-a's scan")
            #expect(try upB.head() == initialB, "nothing committed for team-b")
            _ = try await f.waitFor("apps", namespace: "team-b", reason: "Synced", revision: initialB)
        }
    }
}
