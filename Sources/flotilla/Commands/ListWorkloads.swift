import ArgumentParser
import FlotillaAPI
import Foundation
import KubeClient
import KubeModel

/// `flotilla list-workloads`: the workloads an instance manages, as its git head declares them,
/// with images, policies and what the last sync did (Flux v1's `fluxctl list-workloads`).
struct ListWorkloads: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-workloads", abstract: "List an instance's workloads: images, policies, sync status.")

    @OptionGroup var options: ClientOptions
    @OptionGroup var request: InstanceRequestOptions
    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Workloads in every namespace (default: the instance's namespace).")
    var allNamespaces = false
    @Option(help: "Only workloads with this container (and only its row).") var container: String?

    func run() async throws {
        let requester = try options.requester(request.instance)
        try await using(requester.client) { _ in
            let answer = try await requester.send(InstanceRequest(action: .listWorkloads), verb: "list the workloads of", timeout: try request.limit())
            let all = answer.result?["workloads"]?.arrayValue ?? []
            var rows = allNamespaces ? all : all.filter { ($0["id"]?.stringValue ?? "").hasPrefix(requester.namespace + ":") }
            if let container {
                rows = rows.compactMap { row in
                    let matching = (row["containers"]?.arrayValue ?? []).filter { $0["name"]?.stringValue == container }
                    guard !matching.isEmpty else { return nil }
                    var row = row
                    row["containers"] = .array(matching)
                    return row
                }
            }
            guard options.output == .table else { return options.emit(.array(rows)) }
            if rows.isEmpty {
                let elsewhere = all.count
                print("No workloads in namespace \(requester.namespace)" + (allNamespaces || elsewhere == 0 ? "." : " (\(elsewhere) in other namespaces: use --all-namespaces)."))
                return
            }
            var table = [["WORKLOAD", "CONTAINER", "IMAGE", "STATUS", "POLICY"]]
            for row in rows {
                var policy: [String] = []
                if row["automated"] == true { policy.append("automated") }
                if row["locked"] == true { policy.append("locked" + (row["lockedMessage"]?.stringValue.map { " (\($0))" } ?? "")) }
                for (c, f) in (row["filters"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) { policy.append("tag.\(c)=\(f.stringValue ?? "")") }
                let status = (row["status"]?.stringValue ?? "-") + (row["error"]?.stringValue.map { ": \($0)" } ?? "")
                let containers = row["containers"]?.arrayValue ?? []
                for (i, c) in (containers.isEmpty ? [JSONValue.null] : containers).enumerated() {
                    table.append([i == 0 ? row["id"]?.stringValue ?? "" : "", c["name"]?.stringValue ?? "", c["image"]?.stringValue ?? "",
                                  i == 0 ? status : "", i == 0 ? (policy.isEmpty ? "-" : policy.joined(separator: ", ")) : ""])
                }
            }
            print(ListInstances.format(table), terminator: "")
            for error in answer.result?["errors"]?.arrayValue ?? [] { print("warning: \(error.stringValue ?? "")") }
        }
    }
}

/// `flotilla list-images`: the tags the registry has for each container, newest first, the one
/// running marked (Flux v1's `fluxctl list-images`).
struct ListImages: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list-images", abstract: "List the available tags of each container, newest first.")

    @OptionGroup var options: ClientOptions
    @OptionGroup var request: InstanceRequestOptions
    @Option(name: [.short, .customLong("workload")], help: "Only this workload (NAMESPACE:KIND/NAME, e.g. default:deployment/web).") var workload: [String] = []
    @Option(name: [.short, .customLong("limit")], help: "Tags per container (0: all, at most 100).") var limit = 10

    func run() async throws {
        let requester = try options.requester(request.instance)
        try await using(requester.client) { _ in
            var ask = InstanceRequest(action: .listImages)
            ask.workloads = workload.isEmpty ? nil : workload
            ask.limit = limit
            let answer = try await requester.send(ask, verb: "list the images of", timeout: try request.limit())
            let rows = answer.result?["images"]?.arrayValue ?? []
            guard options.output == .table else { return options.emit(.array(rows)) }
            if rows.isEmpty {
                print("No containers found.")
                return
            }
            var table = [["WORKLOAD", "CONTAINER", "IMAGE", "CREATED"]]
            var errors: [String] = []
            for row in rows {
                let image = row["current"]?.stringValue ?? ""
                let name = image.split(separator: "@").first.map { s -> String in
                    guard let colon = s.lastIndex(of: ":"), !s[colon...].contains("/") else { return String(s) }
                    return String(s[..<colon])
                } ?? image
                table.append([row["workload"]?.stringValue ?? "", row["container"]?.stringValue ?? "", name, ""])
                if let error = row["error"]?.stringValue {
                    table.append(["", "", "    (error: see below)", ""])
                    errors.append("\(row["workload"]?.stringValue ?? "") \(row["container"]?.stringValue ?? ""): \(error)")
                    continue
                }
                if row["excluded"] == true {
                    table.append(["", "", "  (not scanned: excluded by spec.registry)", ""])
                    continue
                }
                for tag in row["tags"]?.arrayValue ?? [] {
                    let mark = tag["current"] == true ? "'-> " : "|   "
                    let allowed = tag["allowed"] == false ? " (filtered out)" : ""
                    table.append(["", "", mark + (tag["tag"]?.stringValue ?? "") + allowed, tag["created"]?.stringValue ?? ""])
                }
                if let more = row["moreTags"]?.intValue { table.append(["", "", ":   (\(more) more)", ""]) }
            }
            print(ListInstances.format(table), terminator: "")
            for e in errors { print("error: \(e)") }
        }
    }
}
