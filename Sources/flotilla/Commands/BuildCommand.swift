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
            var desired: [DesiredObject] = try await withScratch { work in
                let (_, branch, rendered) = try await preview.render(source, work: work)
                return try await preview.plan(rendered, options: preview.syncOptions(branch: branch), client: client)
            }
            // A CI log is no place for a Secret, decrypted or not.
            if !showSecrets {
                for i in desired.indices { desired[i].object = ComparedObject.masked(live: nil, merged: desired[i].object).1 ?? desired[i].object }
            }
            switch options.output {
            case .json:
                print(ListInstances.pretty(["apiVersion": "v1", "kind": "List", "items": .array(desired.map(\.object))]))
            case .yaml, .table:
                print(desired.map { "# Source: \($0.manifest.location)\n" + YAMLWriter.write($0.object) }.joined(separator: "---\n"), terminator: "")
            }
        }
    }
}
