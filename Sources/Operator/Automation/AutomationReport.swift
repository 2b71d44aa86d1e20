import FlotillaAPI
import ImageAutomation

/// One image automation run: what `fluxd` did every `--automation-interval`. Finds the automated,
/// unlocked workloads in the files under the instance's paths, asks the registries (through the
/// shared, credential-scoped cache) for the newest tag each container's filter allows, and commits
/// the changed image scalars in one commit (read-only instances only report what they would do).
struct AutomationChange: Sendable, Equatable {
    var file: String
    var workload: WorkloadID
    var container: String
    var from: String
    var to: String
}

/// The workloads found at a head, with the scope (paths, generation, default namespace) they
/// were found with, what could not be read, and the generated paths without an image updater.
struct KnownWorkloads: Sendable {
    var head: String
    var scope: String
    var workloads: [Workload] = []
    var errors: [String] = []
    var notUpdatable: Set<String> = []

    /// Whether the workload's images can be written: a plain file, or generated with updaters.
    func updatable(_ w: Workload) -> Bool { !notUpdatable.contains(w.file) }
}

/// One container as the registries see it (see `InstanceReconciler.scanImages`).
struct ContainerScan: Sendable {
    var workload: Workload
    var container: ContainerImage
    var status: WorkloadImageStatus
    var excluded = false
    var filter: TagFilter?
    var tags: [String] = []
    var info: [String: ImageInfo] = [:]
    /// The image to move to (newer than the current one, allowed by the filter).
    var update: String?
}

struct ImageScan: Sendable {
    var containers: [ContainerScan] = []
    var errors: [String] = []
    /// Repositories scanned (tag lists asked for).
    var repositories = 0
}

struct AutomationReport: Sendable, Equatable {
    var changes: [AutomationChange] = []
    var workloads: [WorkloadImageStatus] = []
    var scanned = 0
    var errors: [String] = []
}
