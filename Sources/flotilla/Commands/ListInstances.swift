import ArgumentParser
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// How the fluxctl-like verbs print: a table for people, JSON or YAML for scripts.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable, Sendable {
    case table, json, yaml
}

/// Options every fluxctl-like verb takes: the cluster, as the caller (their own kubeconfig, so
/// their own RBAC decides what they may see and do).
struct ClientOptions: ParsableArguments {
    @Option(help: "Kubeconfig file (default: KUBECONFIG, else ~/.kube/config).") var kubeconfig: String?
    @Option(help: "Kubeconfig context.") var context: String?
    @Option(name: [.short, .long], help: "Namespace (default: the context's namespace, else default).") var namespace: String?
    @Option(name: [.short, .customLong("output")], help: "table, json or yaml.") var output: OutputFormat = .table

    func client() throws -> (KubeClient, String) {
        do {
            let configuration = try ClientConfiguration.resolve(kubeconfig: kubeconfig, context: context)
            return (try KubeClient(configuration: configuration), namespace ?? configuration.namespace)
        } catch {
            throw ValidationError("cannot configure the Kubernetes client: \(error)")
        }
    }
}

/// `flotilla list-instances`: every FluxInstance the caller may list, with its state.
struct ListInstances: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-instances", abstract: "List FluxInstances: Ready, revision, BEHIND, last sync.")

    @OptionGroup var options: ClientOptions
    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "In every namespace.") var allNamespaces = false

    func run() async throws {
        let (client, namespace) = try options.client()
        try await using(client) { client in
            let list: ObjectList
            do {
                list = try await client.list(FluxInstance.resourceType, namespace: allNamespaces ? nil : namespace)
            } catch let error as KubeError {
                let scope = allNamespaces ? "in any namespace" : "in namespace \(namespace)"
                if error.code == 403 { throw CLIError("you may not list FluxInstances \(scope): \(error.message)") }
                throw CLIError("cannot list FluxInstances \(scope): \(error)")
            }
            let rows: [JSONValue] = list.items.map(Self.summary).sorted { ($0["namespace"]?.stringValue ?? "", $0["name"]?.stringValue ?? "") < ($1["namespace"]?.stringValue ?? "", $1["name"]?.stringValue ?? "") }
            switch options.output {
            case .json: print(Self.pretty(.array(rows)))
            case .yaml: print(YAMLWriter.write(.array(rows)), terminator: "")
            case .table:
                if rows.isEmpty {
                    print(allNamespaces ? "No FluxInstances found." : "No FluxInstances found in namespace \(namespace).")
                    return
                }
                var table: [[String]] = [(allNamespaces ? ["NAMESPACE"] : []) + ["NAME", "READY", "STATUS", "REVISION", "BEHIND", "LAST SYNC"]]
                for r in rows {
                    let cells = [r["name"], r["ready"], r["reason"], r["revision"].map { .string(String(($0.stringValue ?? "").prefix(7))) }, r["behind"], r["lastSyncTime"]]
                        .map { value -> String in
                            switch value {
                            case .string(let s)?: return s.isEmpty ? "-" : s
                            case .int(let i)?: return String(i)
                            case .bool(let b)?: return b ? "True" : "False"
                            default: return "-"
                            }
                        }
                    table.append((allNamespaces ? [r["namespace"]?.stringValue ?? ""] : []) + cells)
                }
                print(Self.format(table), terminator: "")
            }
        }
    }

    /// The stable summary of one FluxInstance (what `-o json` prints).
    static func summary(_ item: JSONValue) -> JSONValue {
        let status = item["status"]
        let ready = status?["conditions"]?.arrayValue?.first { $0["type"] == "Ready" }
        var out: [String: JSONValue] = [
            "namespace": item["metadata"]?["namespace"] ?? "",
            "name": item["metadata"]?["name"] ?? "",
            "url": item["spec"]?["git"]?["url"] ?? .null,
            "ready": ready.map { .bool($0["status"] == "True") } ?? .null,
            "reason": ready?["reason"] ?? .null,
            "message": ready?["message"] ?? .null,
            "revision": status?["lastAppliedRevision"] ?? .null,
            "head": status?["headRevision"] ?? .null,
            "behind": status?["behind"] ?? .null,
            "lastSyncTime": status?["lastSyncTime"] ?? .null,
        ]
        out = out.filter { $0.value != .null }
        return .object(out)
    }

    /// Indented JSON with sorted keys (stable for scripts and diffs).
    static func pretty(_ value: JSONValue) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(value.jsonBytes()), options: [.fragmentsAllowed]),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]) else {
            return value.jsonString()
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Columns padded like kubectl's (three spaces apart).
    static func format(_ rows: [[String]]) -> String {
        let widths = (0..<(rows.first?.count ?? 0)).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in c == row.count - 1 ? cell : cell.padding(toLength: widths[c] + 3, withPad: " ", startingAt: 0) }.joined()
        }.joined(separator: "\n") + "\n"
    }
}

/// An error for the user, printed without a stack or type name; exits 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

