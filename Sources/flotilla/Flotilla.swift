import ArgumentParser

@main
struct FlotillaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla",
        abstract: "A Kubernetes operator that runs many Flux v1-style GitOps instances in one process.",
        subcommands: [Dev.self, Run.self, ListInstances.self, SyncCommand.self, IdentityCommand.self])
}
