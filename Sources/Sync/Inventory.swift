import FlotillaAPI
import KubeClient
import KubeModel

/// An object this instance applied: enough to delete exactly that object later (the uid guards
/// against deleting a namesake someone else created since).
public struct InventoryEntry: Hashable, Sendable {
    public var id: ResourceID
    public var apiVersion: String
    public var uid: String

    public init(id: ResourceID, apiVersion: String, uid: String) {
        self.id = id
        self.apiVersion = apiVersion
        self.uid = uid
    }

    /// The uid of an object recorded before it is applied (write-ahead): not known yet.
    public static let pending = "-"
}

/// What an instance has applied and not yet collected. Garbage collection works from it alone
/// (no LIST of the cluster): an object that is not in it is never deleted.
///
/// Stored as text, one object per line: `apiVersion kind namespace name uid` (`-` for a
/// cluster-scoped object's namespace), sorted.
public struct Inventory: Sendable, Equatable {
    public var entries: [ResourceID: InventoryEntry]
    /// The sync set name the objects were marked with (`GCMark`), so they can be collected even
    /// when the source can no longer be asked (e.g. the instance is being deleted).
    public var setName: String?

    public init(entries: [InventoryEntry] = [], setName: String? = nil) {
        self.setName = setName
        self.entries = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { _, b in b })
    }

    public var count: Int { entries.count }

    public func encoded() -> String {
        entries.values.sorted { $0.id < $1.id }.map { e in
            "\(e.apiVersion) \(e.id.kind) \(e.id.namespace ?? "-") \(e.id.name) \(e.uid)"
        }.joined(separator: "\n")
    }

    public static func decode(_ text: String, setName: String? = nil) throws(InventoryError) -> Inventory {
        var entries: [InventoryEntry] = []
        for (i, line) in text.split(separator: "\n").enumerated() {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 5 else { throw InventoryError(message: "inventory line \(i + 1) is malformed: \(line)") }
            let namespace = f[2] == "-" ? nil : f[2]
            entries.append(InventoryEntry(id: ResourceID(apiVersion: f[0], kind: f[1], namespace: namespace, name: f[3]), apiVersion: f[0], uid: f[4]))
        }
        return Inventory(entries: entries, setName: setName)
    }
}

public struct InventoryError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// Where an instance's inventory lives.
public protocol InventoryStore: Sendable {
    /// The stored inventory; an empty one when there is none yet.
    func load() async throws -> Inventory
    func save(_ inventory: Inventory) async throws
}

/// The inventory in a ConfigMap `flotilla-inventory-<instance>` in the instance's namespace
/// (keys `objects` and `setName`), written with server-side apply.
public struct ConfigMapInventoryStore: InventoryStore {
    let client: KubeClient
    public let namespace: String
    public let name: String

    public init(client: KubeClient, instance: InstanceRef) {
        self.client = client
        self.namespace = instance.namespace
        self.name = Flotilla.inventoryPrefix + instance.name
    }

    public func load() async throws -> Inventory {
        let object: JSONValue
        do {
            object = try await client.get(.configMaps, name: name, namespace: namespace)
        } catch {
            if error.isNotFound { return Inventory() }
            throw error
        }
        return try Inventory.decode(object["data"]?["objects"]?.stringValue ?? "", setName: object["data"]?["setName"]?.stringValue)
    }

    public func save(_ inventory: Inventory) async throws {
        var data: [String: JSONValue] = ["objects": .string(inventory.encoded())]
        if let setName = inventory.setName { data["setName"] = .string(setName) }
        let object: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap",
                                 "metadata": ["name": .string(name), "namespace": .string(namespace)],
                                 "data": .object(data)]
        _ = try await client.apply(object, fieldManager: Flotilla.syncFieldManager, force: true)
    }
}
