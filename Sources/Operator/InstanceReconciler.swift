import FlotillaAPI
import Foundation
import GitSource
import ImageAutomation
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Manifests
import Primitives
import Sync

/// One FluxInstance's reconciler: it owns the instance's git mirror, renderer (parse cache, work
/// directory), live cache (lists made as the instance's identity during a sync) and syncer, and releases them all
/// when `run()` returns. Its loop polls the remote every `pollInterval`, syncs on a new commit, on
/// request, and at least every `sync.interval`, and writes the status.
public actor InstanceReconciler {
    public internal(set) var settings: InstanceSettings
    let env: OperatorEnvironment
    var logger: Logger
    let workDirectory: String
    let metrics: OperatorMetrics.Instance

    // Owned resources, built on first use and rebuilt when what they depend on changes.
    var mirror: GitMirror?
    var mirrorSource: InstanceSettings.Source?
    var renderer: ManifestRenderer?
    var live: LiveCache?
    var syncer: Syncer?
    var syncerKey: SyncOptionsKey?
    /// Who the syncer acts as.
    var syncerIdentity: ActingIdentity?
    /// The managed identity's bindings as last made (nil until known: see `keepBindings`).
    var bindings: (namespaces: Set<String>, clusterWide: Bool)?
    var publicKey: String?
    /// The last verified revision (`spec.git.verify`), recovered from the status after a restart,
    /// and the last verification failure reported (an Event is recorded when it changes).
    var verification: VerificationStatus?
    var reportedVerificationFailure: VerificationFailure?

    // Progress, recovered from the status after a restart.
    var lastApplied: String?
    var lastSync: Date?
    var lastRequest: String?
    /// The branch moved (a push webhook said so, or the instance committed to it: a release, a
    /// policy change, automation): the next pass asks the remote itself.
    var pushed = false
    /// The last revision an `Applied` notification was sent for, and the last commit status.
    var lastNotifiedApply: String?
    var lastCommitStatus: (sha: String, state: CommitState)?
    /// Images a registry webhook said were pushed: the next automation run scans them afresh.
    var rescan: Set<String> = []
    var lastWrittenStatus: FluxInstanceStatus?
    /// The reason of the last outcome written (a `status` log line is written when it changes).
    var reportedReason: String?
    var failures = 0
    var stopped = false
    var claimsMoved = false
    /// The health of the applied revision (see `HealthWatch`), the state last reported (an
    /// Event when it changes), the drift the last sync found, and the last sync's own outcome
    /// (what `spec.sync.wait` holds back until healthy).
    var healthWatch: HealthWatch?
    var reportedHealth: HealthSummary.State?
    var driftReport: DriftReport?
    var lastSyncOutcome: Outcome?
    /// When the remote was last asked (a pass woken only for a health check does not ask it).
    var lastPoll: Date?
    /// The last sync's result (for the status counts).
    var lastCounts: SyncResult? { didSet { syncsCompleted += 1 } }
    var syncsCompleted = 0
    /// What the last written status was built from: the same inputs build the same status, so an
    /// idle poll does not build it again.
    var lastStatusInputs: StatusInputs?
    /// When image automation last ran, and what it saw (the status's `images`).
    var lastAutomation: Date?
    var imagesStatus: ImagesStatus?
    /// The `.flux.yaml` of each generated path, as the last automation run read it.
    var generatedConfigs: [String: FluxConfig] = [:]
    /// The workloads found at a head (see `workloads(mirror:head:)`).
    var knownWorkloads: KnownWorkloads?
    /// Answers to the requests of the fluxctl-like verbs (the status's `requests`).
    var requestResults: [RequestResult] = []
    /// The last revisions applied, newest first (`status.history`).
    var history: [SyncRecord] = []
    /// Reconcile passes so far (for tests and metrics).
    public private(set) var passes = 0
    /// The applied revision as the status last written says it (for benchmarks and tests).
    public var reportedRevision: String? { lastWrittenStatus?.lastAppliedRevision }
    /// Syncers built so far: a new one starts with empty plan and verified caches (for tests).
    public internal(set) var syncersBuilt = 0
    /// The loop's pause: ended by its timer or by `wake()`, whichever comes first.
    var pause: TimedPause?
    /// A wake-up that arrived while the loop was busy: the next pause is skipped.
    var wakePending = false

    public init(settings: InstanceSettings, status: FluxInstanceStatus?, environment: OperatorEnvironment) {
        self.settings = settings
        self.env = environment
        var logger = environment.logger
        logger[metadataKey: "instance"] = "\(settings.ref)"
        self.logger = logger
        self.workDirectory = "\(environment.workRoot)/\(settings.ref.namespace)/\(settings.ref.name)"
        self.metrics = OperatorMetrics.Instance(settings.ref)
        self.lastApplied = status?.lastAppliedRevision
        self.lastSync = status?.lastSyncTime.flatMap(KubeTime.date)
        // A request made while no operator ran is handled now (older operators did not record
        // the handled request: then the current one counts as handled).
        self.lastRequest = status?.lastHandledReconcileAt ?? settings.reconcileRequestedAt
        self.lastWrittenStatus = status
        self.reportedReason = status.flatMap(Self.outcome(of:))?.reason
        self.requestResults = status?.requests ?? []
        self.history = status?.history ?? []
        self.verification = status?.verification
        self.reportedHealth = status?.health.flatMap { HealthSummary.State(rawValue: $0.state) }
        self.driftReport = status?.drift
        // A revision still rolling out when the operator stopped is synced again at once, so
        // that its health is watched to the end.
        if status?.health?.state == HealthSummary.State.progressing.rawValue { self.lastSync = nil }
    }

    /// New settings from the supervisor (spec or annotations changed): applied at once.
    public func update(_ settings: InstanceSettings) {
        // The instance's own status writes come back through the watch: those change nothing.
        guard settings != self.settings else { return }
        self.settings = settings
        wake()
    }

    /// Ends `run()` (the instance was deleted or the operator stops).
    public func stop() {
        stopped = true
        wake()
    }

    public func run() async {
        logger.info("reconciler started")
        env.claims.listen(settings.ref) { [weak self] in
            guard let self else { return }
            Task { await self.claimsChanged() }
        }
        await withTaskCancellationHandler {
            while !stopped && !Task.isCancelled {
                await sleep(await passInTaskOfItsOwn())
            }
        } onCancel: {
            Task { await self.wake() }
        }
        env.claims.release(settings.ref)
        await release()
        logger.info("reconciler stopped")
    }

    // MARK: one pass

    /// Runs a pass in a task of its own and returns its delay. A task keeps the memory its deepest
    /// await needed (its allocator's slabs: about 60 KiB after a sync) until the task object is
    /// freed, not when it finishes; so the handle is dropped here, before the pause, and an idle
    /// instance does not hold its last pass's memory between passes.
    func passInTaskOfItsOwn() async -> Duration {
        let pass = Task { await self.reconcileOnce() }
        return await withTaskCancellationHandler { await pass.value } onCancel: { pass.cancel() }
    }

    /// Polls, syncs when due, writes the status; returns how long to wait for the next pass.
    /// Every log line of the pass carries its id (and, once known, the revision).
    func reconcileOnce() async -> Duration {
        await ReconcileContext.$id.withValue(ReconcileContext.newID()) { await pass() }
    }

    func pass() async -> Duration {
        passes += 1
        if !settings.requests.isEmpty || requestResults.contains(where: { $0.result != nil }) { await handleRequests() }
        let s = settings
        if s.suspend {
            await writeStatus(.failure(ConditionReason.suspended, "Suspended: nothing is synced until spec.suspend is false", nil), head: nil)
            return .seconds(3600)
        }
        if env.tenancy.check(s) != nil {
            // Refused by the install alone: nothing is fetched or applied, and bindings made
            // before (by an earlier version) are removed on the way.
            do { _ = try await authorize() } catch { return await failed(error) }
        }
        do {
            // Asked for now (a request, a push webhook, a commit of the instance's own): the
            // remote itself is asked, never a shared answer and never skipped for a health check.
            let requested = s.reconcileRequestedAt != lastRequest || pushed
            let settingsChanged = syncerKey.map { $0 != SyncOptionsKey(branch: $0.branch, settings: s) } ?? false
            let maxAge = schedule.pollMaxAge(requested: requested, settingsChanged: settingsChanged)
            pushed = false
            if schedule.healthCheckOnly(check: healthWatch?.nextCheck, lastPoll: lastPoll,
                                        remoteWanted: requested || settingsChanged || syncerKey == nil || !s.requests.isEmpty || claimsMoved, now: Date()) {
                await checkHealthIfDue()
                await writeIdleStatus(head: nil, behind: nil)
                return nextDelay()
            }
            let (mirror, branch, head) = try await fetchHead(maxAge: maxAge)
            lastPoll = Date()
            return await ReconcileContext.$revision.withValue(head) {
                await reconcile(head: head, branch: branch, mirror: mirror)
            }
        } catch {
            return await failed(error)
        }
    }

    /// The rest of a pass, once the head is fetched: sync when due, automation, the status.
    func reconcile(head: String, branch: String, mirror: GitMirror) async -> Duration {
        let s = settings
        do {
            // New settings (spec or annotations) sync at once; a reconciler that just started (after a
            // restart) does not: it recovered lastApplied and lastSync from the status.
            let triggers = InstanceSchedule.Triggers(
                newHead: head != lastApplied, requested: s.reconcileRequestedAt != lastRequest,
                settingsChanged: syncerKey.map { $0 != SyncOptionsKey(branch: $0.branch, settings: s) } ?? false, claimsMoved: claimsMoved)
            let due = schedule.syncDue(triggers, now: Date())
            guard due else { return try await idle(mirror: mirror, head: head, branch: branch) }
            claimsMoved = false
            try await verify(head: head, mirror: mirror)
            if head != lastApplied { await reportCommitStatus(head: head, outcome: nil) }
            let outcome = try await sync(head: head, branch: branch, mirror: mirror)
            lastSyncOutcome = outcome
            let shown = gated(outcome)
            await reportCommitStatus(head: head, outcome: shown.reconciling ? nil : shown.outcome)
            lastRequest = s.reconcileRequestedAt
            failures = outcome.ready ? 0 : failures + 1
            if outcome.ready { await notifyApplied(head) }
            if outcome.ready, await automateIfDue(mirror: mirror, head: head, branch: branch) {
                pushed = true
                wakePending = true
            }
            await writeStatus(shown.outcome, head: head, behind: try await behind(mirror: mirror, head: head), reconciling: shown.reconciling)
            return outcome.ready ? nextDelay() : min(nextDelay(), backoff())
        } catch {
            return await failed(error)
        }
    }
}
