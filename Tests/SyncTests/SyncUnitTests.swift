import KubeModel
import Sync
import Testing

@Suite("Sync decisions without I/O")
struct SyncUnitTests {
    @Test("GC marks and set names are Flux v1's (values computed independently with Python's hashlib)")
    func fluxMarks() {
        let set = GCMark.setName(url: "ssh://git@github.com/org/repo", branch: "main", paths: ["apps", "infra"])
        #expect(set == "Bf20RDSQ4tRBuD8hvUUFblzELqQMw3qvMqrpXSLu12g")
        let id = ResourceID(apiVersion: "apps/v1", kind: "Deployment", namespace: "apps", name: "web")
        #expect(id.description == "apps:deployment/web")
        #expect(GCMark.mark(setName: set, id: id) == "sha256.UrfWlHi4nZpUJyZ19zNP2lJY37FF_odkNUVunTB-1ZM")
        #expect(ResourceID(apiVersion: "v1", kind: "Namespace", namespace: nil, name: "x").description == "<cluster>:namespace/x")
    }

    @Test("the checksum is the SHA-1 of the canonical JSON")
    func checksum() {
        #expect(LiveComparison.checksum(["b": [true, .null], "a": 1]) == "df11b3b927ce2474af1f5956c37c2f7415488ea8")
    }

    @Test("up to date: server-added fields are fine; an edited, missing or reordered owned field is drift; a different checksum is a change")
    func liveComparison() {
        let desired: JSONValue = [
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web", "creationTimestamp": .null],
            "spec": ["template": ["spec": ["containers": [["name": "a", "image": "a:1"], ["name": "b", "image": "b:1", "ports": [["containerPort": 80]]]]]],
                     "strategy": ["type": "RollingUpdate"]],
            "status": ["replicas": 9],
        ]
        var live = desired
        live["metadata"] = ["name": "web", "uid": "u1", "annotations": ["fluxcd.io/sync-checksum": "c1"], "creationTimestamp": "2024-01-01T00:00:00Z"]
        live["status"] = ["replicas": 1]
        // Server defaults inside keyed list items, and the items in another order.
        live["spec"]?["template"]?["spec"]?["containers"] = [["name": "b", "image": "b:1", "imagePullPolicy": "IfNotPresent",
                                                              "ports": [["containerPort": 80, "protocol": "TCP"]]],
                                                             ["name": "a", "image": "a:1", "terminationMessagePath": "/dev/termination-log"]]
        live["spec"]?["replicas"] = 3
        #expect(LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c1"))
        #expect(!LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c2"), "git changed")
        var edited = live
        var containers = edited["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? []
        containers[0]["image"] = "b:hacked"
        edited["spec"]?["template"]?["spec"]?["containers"] = .array(containers)
        #expect(!LiveComparison.isUpToDate(desired: desired, live: edited, checksum: "c1"))
        var missing = live
        missing["spec"]?["strategy"] = nil
        #expect(!LiveComparison.isUpToDate(desired: desired, live: missing, checksum: "c1"))
        // Atomic lists compare by position and length.
        let args: JSONValue = ["kind": "X", "spec": ["args": ["--a", "--b"]]]
        var liveArgs = args
        liveArgs["metadata"] = ["annotations": ["fluxcd.io/sync-checksum": "c"]]
        #expect(LiveComparison.isUpToDate(desired: args, live: liveArgs, checksum: "c"))
        liveArgs["spec"]?["args"] = ["--b", "--a"]
        #expect(!LiveComparison.isUpToDate(desired: args, live: liveArgs, checksum: "c"))
    }

    @Test("what the server normalises is not drift: quantities in canonical form, empty lists dropped")
    func serverNormalisation() {
        let desired: JSONValue = ["kind": "Pod", "spec": ["args": [], "resources": ["requests": ["cpu": 0.5, "memory": "1024Mi"], "limits": ["cpu": 1]]],
                                  "metadata": ["labels": ["version": "1.0"]]]
        var live: JSONValue = ["kind": "Pod", "spec": ["resources": ["requests": ["cpu": "500m", "memory": "1Gi"], "limits": ["cpu": "1"]]],
                               "metadata": ["labels": ["version": "1.0"], "annotations": ["fluxcd.io/sync-checksum": "c"]]]
        #expect(LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c"))
        live["spec"]?["resources"]?["requests"]?["cpu"] = "600m"
        #expect(!LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c"), "a different amount is drift")
        live["spec"]?["resources"]?["requests"]?["cpu"] = "500m"
        live["metadata"]?["labels"]?["version"] = "1"
        #expect(!LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c"), "plain strings are compared as strings")
    }

    @Test("a Secret's stringData matches its base64 data")
    func secretStringData() {
        let desired: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "s"], "stringData": ["password": "hunter2"]]
        var live: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "s", "annotations": ["fluxcd.io/sync-checksum": "c"]],
                               "data": ["password": "aHVudGVyMg=="], "type": "Opaque"]
        #expect(LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c"))
        live["data"]?["password"] = "b3RoZXI="
        #expect(!LiveComparison.isUpToDate(desired: desired, live: live, checksum: "c"))
    }

    @Test("the blast-radius guard: empty sets, large deletions and cascading kinds are held; approval and the switch release them")
    func pruneGuard() {
        func ids(_ n: Int, kind: String = "ConfigMap") -> [ResourceID] {
            (0..<n).map { ResourceID(group: "", kind: kind, namespace: kind == "Namespace" ? nil : "apps", name: "o\($0)") }
        }
        var options = GarbageCollectionOptions(enabled: true)
        let guardOn = PruneGuard(options: options)
        #expect(guardOn.holdReason(candidates: [], inventory: 10, renderedObjects: 0, revision: "abcdef123") == nil, "nothing to delete")
        #expect(guardOn.holdReason(candidates: ids(5), inventory: 10, renderedObjects: 5, revision: "abcdef123") == nil, "50% is allowed")
        #expect(guardOn.holdReason(candidates: ids(6), inventory: 10, renderedObjects: 4, revision: "abcdef123")?.contains("6 of 10") == true)
        #expect(guardOn.holdReason(candidates: ids(1), inventory: 1, renderedObjects: 0, revision: "abcdef123")?.contains("renders no objects") == true)
        #expect(guardOn.holdReason(candidates: ids(1, kind: "Namespace"), inventory: 10, renderedObjects: 9, revision: "abcdef123")?
            .contains("deleting <cluster>:namespace/o0 would delete everything in it") == true)
        options.approvedRevision = "abcdef1"
        #expect(PruneGuard(options: options).holdReason(candidates: ids(6), inventory: 10, renderedObjects: 4, revision: "abcdef123") == nil)
        #expect(PruneGuard(options: options).holdReason(candidates: ids(1, kind: "Namespace"), inventory: 10, renderedObjects: 9, revision: "abcdef123") == nil)
        options.approvedRevision = "abc"
        #expect(PruneGuard(options: options).holdReason(candidates: ids(6), inventory: 10, renderedObjects: 4, revision: "abcdef123") != nil,
                "an approval needs at least 7 characters")
        options.approvedRevision = nil
        options.maxDeletePercent = 80
        #expect(PruneGuard(options: options).holdReason(candidates: ids(8), inventory: 10, renderedObjects: 2, revision: "r") == nil)
        options.guardEnabled = false
        #expect(PruneGuard(options: options).holdReason(candidates: ids(10), inventory: 10, renderedObjects: 0, revision: "r") == nil)
    }

    @Test("the inventory round-trips through its text form; a malformed line is an error")
    func inventoryText() throws {
        let inventory = Inventory(entries: [
            InventoryEntry(id: ResourceID(apiVersion: "apps/v1", kind: "Deployment", namespace: "apps", name: "web"), apiVersion: "apps/v1", uid: "u1"),
            InventoryEntry(id: ResourceID(apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", namespace: nil, name: "system:reader"),
                           apiVersion: "rbac.authorization.k8s.io/v1", uid: "u2"),
        ])
        let text = inventory.encoded()
        #expect(text == "rbac.authorization.k8s.io/v1 ClusterRole - system:reader u2\napps/v1 Deployment apps web u1")
        #expect(try Inventory.decode(text) == inventory)
        #expect(throws: InventoryError.self) { try Inventory.decode("v1 ConfigMap apps\n") }
    }

    @Test("the instance label value is namespace.name, or a hash when that is too long")
    func instanceLabel() {
        #expect(InstanceRef(namespace: "team-a", name: "apps").labelValue == "team-a.apps")
        let long = InstanceRef(namespace: String(repeating: "n", count: 40), name: String(repeating: "m", count: 40)).labelValue
        #expect(long.count == 41)
        #expect(long.hasPrefix("h"))
        #expect(long.allSatisfy { $0.isLetter || $0.isNumber })
    }

    @Test("apply order: namespaces and CRDs early, workloads after their config, custom resources last")
    func kindOrder() {
        let kinds = ["Widget", "Deployment", "ConfigMap", "CustomResourceDefinition", "Namespace", "Service"]
        #expect(kinds.sorted { KindOrder.rank($0) < KindOrder.rank($1) } == ["Namespace", "ConfigMap", "CustomResourceDefinition", "Service", "Deployment", "Widget"])
    }
}
