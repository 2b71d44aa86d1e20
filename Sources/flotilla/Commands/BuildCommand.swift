import ArgumentParser
import FlotillaAPI
import Foundation
import KubeModel
import Manifests
import Sync

/// `flotilla build`: the manifests an instance would apply, as it would apply them (namespaces
/// defaulted, Flotilla's labels and checksum added), from a branch, a commit or a working copy.
struct BuildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Print the manifests an instance would apply (a branch, a commit, or a local working copy).")

    @OptionGroup var options: ClientOptions
    @OptionGroup var source: PreviewOptions
    @Flag(help: "Print Secrets' values (decrypted SOPS files included) instead of ***.") var showSecrets = false

    func run() async throws {
        let (client, namespace) = try options.client()
        try await using(client) { client in
            let preview = try await InstancePreview.load(client: client, namespace: namespace, name: source.instance)
            let desired: [DesiredObject] = try await withScratch { work in
                let (_, branch, rendered) = try await preview.render(source, work: work)
                return try await preview.plan(rendered, options: preview.syncOptions(branch: branch), client: client)
            }
            // A CI log is no place for a Secret, decrypted or not.
            let objects = desired.map { showSecrets ? $0.object : ComparedObject.masked(live: nil, merged: $0.object).1 ?? $0.object }
            switch options.output {
            case .json:
                print(ListInstances.pretty(["apiVersion": "v1", "kind": "List", "items": .array(objects)]))
            case .yaml, .table:
                print(zip(desired, objects).map { "# Source: \($0.manifest.location)\n" + YAMLWriter.write($1) }.joined(separator: "---\n"), terminator: "")
            }
        }
    }
}
