import Primitives
import GitSource
import Manifests
import ImageAutomation
import KubeClient
import KubeRuntime
import Logging
import Sync

/// What every reconciler of one operator shares: the operator's own client (status, inventory,
/// Secrets, managed ServiceAccounts — never the instances' manifests), the event recorder, the
/// root of the instances' work directories and the global limit on concurrent syncs.
public struct OperatorEnvironment: Sendable {
    public var client: KubeClient
    public var workRoot: String
    public var events: EventRecorder
    /// The global limit on concurrent syncs (fair: first come, first served).
    public var syncSlots: Gate
    /// Which instance declares which object: contested objects are applied by none.
    public var claims = ClaimRegistry()
    public var metrics = OperatorMetrics()
    /// Registry tags and image metadata, shared by every instance, keyed by credentials.
    public var registryCache = RegistryCache(client: RegistryClient())
    /// Registry logins from the operator pod's platform identity (ECR, Google, ACR), as the
    /// install allows (`--registry-platform-credentials`, `--registry-platform-namespaces`).
    public var platformCredentials = PlatformCredentials(policy: PlatformCredentialPolicy())
    /// Sends the instances' notifications (run by the supervisor).
    public var notifications = NotificationDispatcher()
    /// The SSH connections instances' polls reuse (`--ssh-poll-idle-timeout`).
    public var sshConnections: SSHConnections = .shared
    /// The administrator's tenancy decisions (flags and chart values).
    public var tenancy: TenancyPolicy
    public var logger: Logger

    public init(client: KubeClient, workRoot: String, concurrency: Int, tenancy: TenancyPolicy, logger: Logger) {
        self.client = client
        self.tenancy = tenancy
        self.workRoot = workRoot
        self.events = EventRecorder(client: client, component: "flotilla", logger: logger)
        self.syncSlots = Gate(permits: concurrency)
        self.logger = logger
    }
}
