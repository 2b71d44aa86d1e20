/// What an instance applied, by namespace and kind, with each object's health and drift: built
/// from its inventory (the ConfigMap `flotilla-inventory-<name>`, one `apiVersion kind namespace
/// name uid` line per object, `-` for cluster scope) and its status' unhealthy and drifted objects.
struct InventoryTree: Equatable {
    // Stored properties only: the templates read them by reflection.
    struct Object: Equatable {
        var name: String
        /// nil when healthy (or not assessed); else the status and reason. (nil, not "": the
        /// templates' sections take an empty string for true.)
        var health: String?
        var drift: String?
        var problem: Bool
    }
    struct Kind: Equatable {
        var kind: String
        var objects: [Object]
        var count: Int
    }
    struct Namespace: Equatable {
        var name: String
        var kinds: [Kind]
        var count: Int
        var problems: Int
        /// "2 with a problem", or nil.
        var problemsText: String?
        /// Open by default only where something is wrong.
        var open: Bool
    }

    var namespaces: [Namespace]
    var total: Int

    /// `unhealthy` and `drifted` map the status' object ids (`team-a:deployment/web`,
    /// `<cluster>:namespace/x`) to what is wrong.
    init(inventory: String, unhealthy: [String: String], drifted: [String: String]) {
        var byNamespace: [String: [String: [Object]]] = [:]
        var total = 0
        for line in inventory.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            guard fields.count >= 4 else { continue }
            let (kind, namespace, name) = (fields[1], fields[2] == "-" ? "" : fields[2], fields[3])
            let id = "\(namespace.isEmpty ? "<cluster>" : namespace):\(kind.lowercased())/\(name)"
            let (health, drift) = (unhealthy[id], drifted[id])
            byNamespace[namespace, default: [:]][kind, default: []].append(Object(name: name, health: health, drift: drift,
                                                                                  problem: health != nil || drift != nil))
            total += 1
        }
        namespaces = byNamespace.keys.sorted().map { namespace in
            let kinds = byNamespace[namespace]!.keys.sorted().map { kind in
                let objects = byNamespace[namespace]![kind]!.sorted { $0.name < $1.name }
                return Kind(kind: kind, objects: objects, count: objects.count)
            }
            let problems = kinds.reduce(0) { $0 + $1.objects.filter(\.problem).count }
            return Namespace(name: namespace.isEmpty ? "cluster-scoped" : namespace, kinds: kinds,
                             count: kinds.reduce(0) { $0 + $1.count }, problems: problems,
                             problemsText: problems > 0 ? "\(problems) with a problem" : nil, open: problems > 0)
        }
        self.total = total
    }
}
