import FlotillaAPI
import KubeClient
import KubeModel
import KubeTesting
@testable import Operator
import Sync
import Testing

@Suite("The status writer")
struct StatusWriterTests {
    @Test("the whole status is applied: a field the operator stops setting is dropped")
    func wholeStatus() async throws {
        try await withTestCluster { cluster in
            let client = try cluster.client()
            _ = try await client.create(.customResourceDefinitions, try YAML.decode(FluxInstanceCRD.yaml))
            #expect(try await eventually { (try? await client.list(FluxInstance.resourceType)) != nil })
            _ = try await client.apply(["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance", "metadata": ["name": "apps", "namespace": "default"],
                                        "spec": ["git": ["url": "https://git.example/apps.git"]]], as: FluxInstance.resourceType, fieldManager: "kubectl")
            let ref = InstanceRef(namespace: "default", name: "apps")
            var status = FluxInstanceStatus()
            status.lastError = "the remote did not answer"
            status.headRevision = "abc"
            try await StatusWriter(client: client).write(status, of: ref)
            #expect(try await client.get(FluxInstance.self, name: "apps", namespace: "default").status?.lastError == "the remote did not answer")
            status.lastError = nil
            try await StatusWriter(client: client).write(status, of: ref)
            let written = try await client.get(FluxInstance.self, name: "apps", namespace: "default").status
            #expect(written?.lastError == nil, "dropped, not left behind")
            #expect(written?.headRevision == "abc")
            try await client.shutdown()
        }
    }
}
