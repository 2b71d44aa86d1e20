import ArgumentParser

@main
struct FlotillaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flotilla",
        abstract: "A Kubernetes operator that runs many Flux v1-style GitOps instances in one process.",
        subcommands: [Dev.self, UICommand.self, Run.self, ListInstances.self, ListWorkloads.self, ListImages.self, Release.self, Automate.self, Deautomate.self,
                      Lock.self, Unlock.self, PolicyCommand.self, SyncCommand.self, IdentityCommand.self, BuildCommand.self, DiffCommand.self, GeneratorServerCommand.self])
}
