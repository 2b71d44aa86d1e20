import FlotillaAPI
import KubeClient
import KubeModel
import KubeRuntime
import Logging
import Sync

extension InstanceReconciler {
    /// What the instance may reach now: the install's policy and the target Namespaces' consent
    /// (read fresh for each sync, so a consent withdrawn is honoured at the next one). For the
    /// managed identity, its `edit` bindings are made to match the grant exactly: bindings to
    /// namespaces no longer permitted (made by an earlier version, or before consent was
    /// withdrawn) are removed. A refusal removes them all and is thrown; nothing is applied.
    func authorize() async throws -> AccessGrant {
        let policy = env.tenancy
        var consents: [String: NamespaceConsent] = [:]
        for namespace in policy.namespacesNeedingConsent(settings) {
            do {
                let object = try await env.client.get(.namespaces, name: namespace)
                consents[namespace] = NamespaceConsent(annotations: object["metadata"]?["annotations"]?.objectValue?.compactMapValues(\.stringValue))
            } catch {
                if !error.isNotFound { throw error }
            }
        }
        switch policy.decide(settings, consents: consents) {
        case .granted(let grant):
            try await keepBindings(grant)
            return grant
        case .refused(let refusal):
            try await keepBindings(nil)
            throw refusal
        }
    }

    /// The bindings the operator keeps for this instance's managed ServiceAccount: RoleBindings
    /// `flotilla-<ns>-<name>` to `edit` in the granted namespaces, or one ClusterRoleBinding for
    /// a cluster-wide grant, and nothing else. In lockdown the operator manages no RBAC at all.
    func keepBindings(_ grant: AccessGrant?) async throws {
        if env.tenancy.defaultServiceAccount != nil { return }
        var wanted = Set<String>()
        var clusterWide = false
        if let grant, case .managed = grant.identity {
            switch grant.bindings {
            case .none: break
            case .namespaces(let namespaces): wanted = namespaces
            case .clusterWide: clusterWide = true
            }
        }
        let managed = ManagedBindings(client: env.client, ref: settings.ref, account: settings.managedServiceAccountName)
        let bound = try await boundNamespaces()
        let adding = (clusterWide && !bound.clusterWide) || !wanted.subtracting(bound.namespaces).isEmpty
        if adding || (bindings == nil && (!wanted.isEmpty || clusterWide)) { try await ensureManagedServiceAccount() }
        if clusterWide != bound.clusterWide {
            if clusterWide {
                try await managed.bind(namespace: nil)
            } else {
                try await managed.unbind(namespace: nil)
                logger.notice("binding removed", metadata: ["binding": "ClusterRoleBinding/\(managed.name)"])
            }
        }
        for namespace in wanted.subtracting(bound.namespaces).sorted() { try await managed.bind(namespace: namespace) }
        for namespace in bound.namespaces.subtracting(wanted).sorted() {
            try await managed.unbind(namespace: namespace)
            logger.notice("binding removed", metadata: ["binding": "RoleBinding/\(namespace)/\(managed.name)"])
        }
        bindings = (wanted, clusterWide)
    }

    /// The bindings the instance has: remembered once known, found once at start.
    func boundNamespaces() async throws -> (namespaces: Set<String>, clusterWide: Bool) {
        if let bindings { return bindings }
        return try await ManagedBindings(client: env.client, ref: settings.ref).find(hint: settings.allowedNamespaces)
    }

    /// A refused instance: Ready=False with the refusal's reason, stalled until an administrator
    /// or the spec changes; a warning and an Event when the refusal is new.
    func refused(_ refusal: AccessRefusal) async {
        let outcome = Outcome.failure(refusal.reason, refusal.message, .stalled)
        if lastWrittenStatus.flatMap(Self.outcome(of:)) != outcome {
            logger.warning("access refused", metadata: ["reason": "\(refusal.reason)", "namespaces": "\(refusal.namespaces.joined(separator: ","))",
                                                        "message": "\(refusal.message)"])
            await env.events.record(await instanceObject(), type: .warning, reason: refusal.reason, message: refusal.message)
        }
        await writeStatus(outcome, head: nil)
    }

    /// The ServiceAccount `flotilla-<name>` in the instance's namespace (no rights of its own: its
    /// bindings are `keepBindings`').
    func ensureManagedServiceAccount() async throws {
        let ref = settings.ref
        let labels: JSONValue = [.init(stringLiteral: Flotilla.instanceLabel): .string(ref.labelValue)]
        let account: JSONValue = ["apiVersion": "v1", "kind": "ServiceAccount",
                                  "metadata": ["name": .string(settings.managedServiceAccountName), "namespace": .string(ref.namespace), "labels": labels]]
        _ = try await env.client.apply(account, as: .serviceAccounts, fieldManager: Flotilla.syncFieldManager, force: true)
    }
}
