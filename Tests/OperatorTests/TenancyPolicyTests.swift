import FlotillaAPI
import KubeModel
import Manifests
@testable import Operator
import Testing

/// The tenancy decisions, without I/O: what a FluxInstance may reach given only what an
/// administrator made (install flags, Namespace consent, ServiceAccounts).
@Suite("Tenancy policy")
struct TenancyPolicyTests {
    let sandboxed = TenancyPolicy(generators: .bubblewrap(Bubblewrap()))

    func settings(_ namespace: String = "team-a", _ configure: (inout FluxInstanceSpec) -> Void = { _ in }) throws -> InstanceSettings {
        var spec = FluxInstanceSpec(git: GitSpec(url: "https://git.example/app.git"))
        configure(&spec)
        return try InstanceSettings.resolve(FluxInstance(metadata: ObjectMeta(name: "app", namespace: namespace), spec: spec))
    }

    func refusal(_ decision: AccessDecision) -> AccessRefusal? {
        if case .refused(let r) = decision { return r }
        return nil
    }

    @Test("the managed identity is bound to edit in its own namespace only")
    func ownNamespace() throws {
        let s = try settings()
        #expect(sandboxed.namespacesNeedingConsent(s) == [])
        #expect(sandboxed.decide(s, consents: [:]) == .granted(AccessGrant(identity: .managed("flotilla-app"), bindings: .namespaces(["team-a"]))))
    }

    @Test("another namespace needs its consent; the refusal names every namespace without it")
    func consent() throws {
        let s = try settings { $0.allowedNamespaces = ["team-a", "team-c", "team-b"] }
        #expect(sandboxed.namespacesNeedingConsent(s) == ["team-b", "team-c"])
        let refused = try #require(refusal(sandboxed.decide(s, consents: ["team-b": NamespaceConsent(from: .only(["team-x"]))])))
        #expect(refused.reason == "NamespaceNotPermitted")
        #expect(refused.namespaces == ["team-b", "team-c"])
        #expect(refused.message.contains("team-b, team-c") && refused.message.contains(Flotilla.allowInstancesFromAnnotation))
        let both = ["team-b": NamespaceConsent(annotations: [Flotilla.allowInstancesFromAnnotation: "team-x, team-a"]),
                    "team-c": NamespaceConsent(annotations: [Flotilla.allowInstancesFromAnnotation: "*"])]
        #expect(sandboxed.decide(s, consents: both) == .granted(AccessGrant(identity: .managed("flotilla-app"), bindings: .namespaces(["team-a", "team-b", "team-c"]))))
        #expect(NamespaceConsent(annotations: ["other": "team-a"]).allows("team-a") == false, "no annotation, no consent")
    }

    @Test("allowedNamespaces [*] and clusterScoped only in the install's cluster-scope namespaces")
    func clusterScope() throws {
        let star = try settings { $0.allowedNamespaces = ["*"] }
        let r = try #require(refusal(sandboxed.decide(star, consents: [:])))
        #expect(r.reason == "NamespaceNotPermitted" && r.namespaces == ["*"])
        let scoped = try settings { $0.clusterScoped = true }
        #expect(refusal(sandboxed.decide(scoped, consents: [:]))?.reason == "ClusterScopeNotPermitted")
        var admin = sandboxed
        admin.clusterScopeNamespaces = ["team-a"]
        #expect(admin.decide(star, consents: [:]) == .granted(AccessGrant(identity: .managed("flotilla-app"), bindings: .clusterWide)))
        #expect(refusal(admin.decide(scoped, consents: [:])) == nil)
        let elsewhere = try settings("team-b") { $0.allowedNamespaces = ["*"] }
        #expect(refusal(admin.decide(elsewhere, consents: [:]))?.reason == "NamespaceNotPermitted", "only the namespaces named")
    }

    @Test("an administrator's ServiceAccount needs no consent and gets no binding; RBAC decides")
    func explicitServiceAccount() throws {
        let s = try settings { $0.serviceAccountName = "deployer"; $0.allowedNamespaces = ["team-b"] }
        #expect(sandboxed.namespacesNeedingConsent(s) == [])
        #expect(sandboxed.decide(s, consents: [:]) == .granted(AccessGrant(identity: .serviceAccount("deployer"), bindings: .none)))
    }

    @Test("lockdown: an instance without serviceAccountName acts as the default ServiceAccount, and nothing is bound")
    func lockdown() throws {
        var locked = sandboxed
        locked.defaultServiceAccount = "flux-tenant"
        let s = try settings { $0.allowedNamespaces = ["team-b"] }
        #expect(locked.identity(of: s) == .serviceAccount("flux-tenant"))
        #expect(locked.decide(s, consents: [:]) == .granted(AccessGrant(identity: .serviceAccount("flux-tenant"), bindings: .none)))
        let own = try settings { $0.serviceAccountName = "mine" }
        #expect(locked.identity(of: own) == .serviceAccount("mine"))
        #expect(refusal(locked.decide(try settings { $0.allowedNamespaces = ["*"] }, consents: [:]))?.reason == "NamespaceNotPermitted")
    }

    @Test("manifest generation: only in the install's generation namespaces, and only with a sandbox")
    func generation() throws {
        let s = try settings { $0.manifestGeneration = true }
        #expect(refusal(sandboxed.decide(s, consents: [:])) == nil)
        var limited = sandboxed
        limited.generationNamespaces = NamespaceSet(parsing: "team-b, team-c")
        let r = try #require(limited.check(s))
        #expect(r.reason == "GenerationNotPermitted" && r.message.contains("--generation-namespaces"))
        limited.generationNamespaces = NamespaceSet(parsing: "")
        #expect(limited.check(s)?.reason == "GenerationNotPermitted", "empty: nobody")
        let none = TenancyPolicy(generators: .unavailable("/usr/bin/bwrap is not installed"))
        let u = try #require(none.check(s))
        #expect(u.message.contains("/usr/bin/bwrap is not installed") && u.message.contains("--trust-generators"))
        #expect(none.check(try settings()) == nil, "without generation no sandbox is needed")
        #expect(NamespaceSet(parsing: "*") == .all && NamespaceSet(parsing: " a ,b,").contains("b") && !NamespaceSet(parsing: "a").contains("b"))
    }
}
