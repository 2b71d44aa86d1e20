import FlotillaAPI
import Foundation
import KubeModel
import Testing

@Suite("FluxInstance model")
struct FluxInstanceTests {
    @Test("a FluxInstance round-trips through JSON with the fields users write")
    func roundTrip() throws {
        let json = try JSONValue.parse(#"""
            {"apiVersion":"flotilla.dev/v1alpha1","kind":"FluxInstance","metadata":{"name":"team-a","namespace":"flux"},
             "spec":{"git":{"url":"git@github.com:org/repo","branch":"main","paths":["deploy"],"secretRef":{"name":"deploy-key"},"readonly":true},
                     "sync":{"interval":"5m","garbageCollection":{"enabled":true,"maxDeletePercent":30},"deletionPolicy":"Delete"},
                     "allowedNamespaces":["team-a"],"registry":{"includeImages":["*/team-a/*"]}},
             "status":{"observedGeneration":3,"conditions":[{"type":"Ready","status":"True","reason":"Synced"}],"behind":0}}
            """#)
        let instance = try json.decode(FluxInstance.self)
        #expect(instance.spec.git.url == "git@github.com:org/repo")
        #expect(instance.spec.sync?.deletionPolicy == .delete)
        #expect(instance.spec.sync?.garbageCollection?.maxDeletePercent == 30)
        #expect(instance.spec.registry?.includeImages == ["*/team-a/*"])
        #expect(instance.status?.conditions?.first?.reason == "Synced")
        let back = try JSONValue.encode(instance)
        #expect(back.semanticallyEquals(json))
    }

    @Test("a sync request is a new reconcile-requested-at value each time, even within one second")
    func reconcileRequest() {
        let now = Date()
        let a = Flotilla.reconcileRequest(at: now), b = Flotilla.reconcileRequest(at: now)
        let value = { (p: JSONValue) in p["metadata"]?["annotations"]?[Flotilla.reconcileRequestedAt]?.stringValue ?? "" }
        #expect(value(a).hasPrefix(ISO8601DateFormatter().string(from: now) + "-"))
        #expect(value(a) != value(b))
        #expect(a["metadata"]?["annotations"]?.objectValue?.count == 1 && a.objectValue?.count == 1, "nothing else is patched")
    }

    @Test("Flux v1 annotations are read under either prefix, fluxcd.io first")
    func annotations() {
        #expect(FluxAnnotations.value("automated", in: ["flux.weave.works/automated": "true"]) == "true")
        #expect(FluxAnnotations.value("ignore", in: ["fluxcd.io/ignore": "sync_only", "flux.weave.works/ignore": "true"]) == "sync_only")
        #expect(FluxAnnotations.value("locked", in: [:]) == nil)
    }
}

@Suite("The embedded CRD")
struct EmbeddedCRDTests {
    @Test("FluxInstanceCRD.yaml is crds/fluxinstances.flotilla.dev.yaml (run hack/gen-crd-swift.py after editing the CRD)")
    func matchesFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("crds/fluxinstances.flotilla.dev.yaml"), encoding: .utf8)
        #expect(FluxInstanceCRD.yaml + "\n" == file)
        let crd = try YAML.decode(FluxInstanceCRD.yaml)
        #expect(crd["metadata"]?["name"] == "fluxinstances.flotilla.dev")
    }
}
