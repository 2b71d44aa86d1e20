import Foundation
import KubeModel

/// Server-side printing: `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
extension KubeAPIServer {
    func wantsTable(_ request: APIRequest) -> Bool {
        (request.header("accept") ?? "").contains("as=Table")
    }

    struct Column {
        var name: String
        var type: String
        var format: String = ""
        var priority: Int = 0
        var description: String
        var cell: (JSONValue) -> JSONValue
    }

    static func age(_ o: JSONValue) -> JSONValue {
        guard let t = o["metadata"]?["creationTimestamp"]?.stringValue, let d = Timestamp.parse(t) else { return "<unknown>" }
        return .string(Timestamp.humanDuration(Date().timeIntervalSince(d)))
    }

    func columns(_ r: ResourceInfo) -> [Column] {
        let name = Column(name: "Name", type: "string", format: "name",
                          description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: http://kubernetes.io/docs/user-guide/identifiers#names",
                          cell: { .string(ObjectMeta.name($0)) })
        let age = Column(name: "Age", type: "string", description: "CreationTimestamp is a timestamp representing the server time when this object was created.", cell: Self.age)
        func count(_ o: JSONValue, _ keys: [String]) -> JSONValue {
            .int(Int64(keys.reduce(0) { $0 + (o[$1]?.objectValue?.count ?? 0) }))
        }
        func int(_ v: JSONValue?) -> Int64 { v?.intValue ?? 0 }
        if let crd = r.crd {
            var cols = [name]
            let defined = crd.printerColumns
            for c in defined {
                let path = JSONPath(c["jsonPath"]?.stringValue ?? "")
                let type = c["type"]?.stringValue ?? "string"
                cols.append(Column(name: c["name"]?.stringValue ?? "", type: type, format: c["format"]?.stringValue ?? "",
                                   priority: Int(c["priority"]?.intValue ?? 0), description: c["description"]?.stringValue ?? "",
                                   cell: { o in Self.printerCell(path?.evaluate(o).first, type: type) }))
            }
            if defined.isEmpty { cols.append(Column(name: "Age", type: "date", description: age.description, cell: Self.age)) }
            return cols
        }
        switch r.storageKey {
        case "configmaps":
            return [name, Column(name: "Data", type: "string", description: "", cell: { count($0, ["data", "binaryData"]) }), age]
        case "secrets":
            return [name, Column(name: "Type", type: "string", description: "", cell: { $0["type"] ?? "Opaque" }),
                    Column(name: "Data", type: "string", description: "", cell: { count($0, ["data"]) }), age]
        case "namespaces":
            return [name, Column(name: "Status", type: "string", description: "", cell: { $0["status"]?["phase"] ?? "" }), age]
        case "serviceaccounts":
            return [name, Column(name: "Secrets", type: "string", description: "", cell: { .int(Int64($0["secrets"]?.arrayValue?.count ?? 0)) }), age]
        case "deployments.apps", "statefulsets.apps", "replicasets.apps":
            let containers: (JSONValue) -> [JSONValue] = { $0["spec"]?["template"]?["spec"]?["containers"]?.arrayValue ?? [] }
            return [name,
                    Column(name: "Ready", type: "string", description: "", cell: { .string("\(int($0["status"]?["readyReplicas"]))/\(int($0["spec"]?["replicas"]))") }),
                    Column(name: "Up-to-date", type: "integer", description: "", cell: { .int(int($0["status"]?["updatedReplicas"])) }),
                    Column(name: "Available", type: "integer", description: "", cell: { .int(int($0["status"]?["availableReplicas"])) }),
                    age,
                    Column(name: "Containers", type: "string", priority: 1, description: "", cell: { .string(containers($0).compactMap { $0["name"]?.stringValue }.joined(separator: ",")) }),
                    Column(name: "Images", type: "string", priority: 1, description: "", cell: { .string(containers($0).compactMap { $0["image"]?.stringValue }.joined(separator: ",")) }),
                    Column(name: "Selector", type: "string", priority: 1, description: "", cell: { o in
                        let labels = o["spec"]?["selector"]?["matchLabels"]?.objectValue ?? [:]
                        return .string(labels.keys.sorted().map { "\($0)=\(labels[$0]?.stringValue ?? "")" }.joined(separator: ","))
                    })]
        case "pods":
            return [name,
                    Column(name: "Ready", type: "string", description: "", cell: { o in
                        let n = o["spec"]?["containers"]?.arrayValue?.count ?? 0
                        let ready = o["status"]?["containerStatuses"]?.arrayValue?.filter { $0["ready"]?.boolValue == true }.count ?? 0
                        return .string("\(ready)/\(n)")
                    }),
                    Column(name: "Status", type: "string", description: "", cell: { $0["status"]?["phase"] ?? "Pending" }),
                    Column(name: "Restarts", type: "string", description: "", cell: { _ in "0" }),
                    age]
        case "services":
            return [name,
                    Column(name: "Type", type: "string", description: "", cell: { $0["spec"]?["type"] ?? "ClusterIP" }),
                    Column(name: "Cluster-IP", type: "string", description: "", cell: { $0["spec"]?["clusterIP"] ?? "<none>" }),
                    Column(name: "External-IP", type: "string", description: "", cell: { _ in "<none>" }),
                    Column(name: "Port(s)", type: "string", description: "", cell: { o in
                        .string((o["spec"]?["ports"]?.arrayValue ?? []).map { "\($0["port"]?.intValue ?? 0)/\($0["protocol"]?.stringValue ?? "TCP")" }.joined(separator: ","))
                    }),
                    age]
        default:
            return builtinColumns(r, name: name, age: age) ?? [name, Column(name: "Created At", type: "date", description: age.description,
                                                                             cell: { $0["metadata"]?["creationTimestamp"] ?? .null })]
        }
    }

    static func printerCell(_ v: JSONValue?, type: String) -> JSONValue {
        guard let v, !v.isNull else { return .null }
        switch type {
        case "integer": return v.intValue.map { .int($0) } ?? .null
        case "number": return v.doubleValue.map { .double($0) } ?? .null
        case "boolean": return v.boolValue.map { .bool($0) } ?? .null
        case "date":
            guard let s = v.stringValue, let d = Timestamp.parse(s) else { return .null }
            return .string(Timestamp.humanDuration(Date().timeIntervalSince(d)))
        default:
            if let s = v.stringValue { return .string(s) }
            switch v {
            case .int, .double, .bool: return .string(v.goDisplay)
            default: return .string(v.jsonString())
            }
        }
    }

    func table(_ r: ResourceInfo, objects: [JSONValue], listRV: String, request: APIRequest) -> JSONValue {
        let cols = columns(r)
        let include = request.query["includeObject"] ?? "Metadata"
        let rows: [JSONValue] = objects.map { o in
            var row: JSONValue = ["cells": .array(cols.map { $0.cell(o) })]
            switch include {
            case "None": break
            case "Object": row["object"] = o
            default: row["object"] = ["apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": o["metadata"] ?? .emptyObject]
            }
            return row
        }
        let defs: [JSONValue] = cols.map {
            ["name": .string($0.name), "type": .string($0.type), "format": .string($0.format), "description": .string($0.description),
             "priority": .int(Int64($0.priority))]
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": .string(listRV)],
                "columnDefinitions": .array(defs), "rows": .array(rows)]
    }
}
