import KubeClient
import KubeModel

extension Syncer {
    /// Reads the objects again (one LIST per resource type and namespace, as the instance's
    /// identity) and assesses their health. An object that is gone or cannot be read is
    /// `unknown`, with why.
    public func health(of ids: [ResourceID]) async -> [ResourceID: ObjectHealth] {
        guard !ids.isEmpty else { return [:] }
        let inventory = (try? await loadInventory())?.entries ?? [:]
        live.beginPass()
        defer { live.endPass() }
        var out: [ResourceID: ObjectHealth] = [:]
        for id in ids {
            guard let entry = inventory[id] else {
                out[id] = ObjectHealth(.unknown, reason: "NotApplied", message: "not in the inventory")
                continue
            }
            let type: ResourceType
            do {
                type = try await client.mapper.mapping(apiVersion: entry.apiVersion, kind: id.kind, client: client)
            } catch {
                out[id] = ObjectHealth(.unknown, reason: "NotServed", message: error.message)
                continue
            }
            switch await read(type, namespace: id.namespace, name: id.name) {
            case .found(let object): out[id] = .of(object)
            case .absent: out[id] = ObjectHealth(.unknown, reason: "NotFound", message: "the object is gone")
            case .failed(let error): out[id] = ObjectHealth(.unknown, reason: "ReadFailed", message: error.message)
            }
        }
        return out
    }
}
