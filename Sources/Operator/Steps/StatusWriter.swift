import FlotillaAPI
import KubeClient
import KubeModel
import Sync

/// The one way a FluxInstance's status reaches the API server: the whole status, server-side
/// applied on the status subresource with the field manager `flotilla-status`, so that fields the
/// operator no longer sets are dropped and nobody else's are touched. The reconciler's report step
/// and the supervisor (for a spec it cannot run) both write through it.
struct StatusWriter {
    let client: KubeClient

    func write(_ status: FluxInstanceStatus, of ref: InstanceRef) async throws {
        let body: JSONValue = ["apiVersion": .string(Flotilla.apiVersion), "kind": "FluxInstance",
                               "metadata": ["name": .string(ref.name), "namespace": .string(ref.namespace)],
                               "status": try JSONValue.encode(status)]
        _ = try await client.apply(body, as: FluxInstance.resourceType, fieldManager: Flotilla.statusFieldManager, force: true, subresource: "status")
    }
}
