import FlotillaAPI
@testable import Sync
import Testing

@Suite("Claim registry")
struct ClaimRegistryTests {
    let a = InstanceRef(namespace: "team-a", name: "apps")
    let b = InstanceRef(namespace: "team-b", name: "apps")

    @Test("an instance's generation moves only when another instance's claims start or stop overlapping its own")
    func generations() {
        let claims = ClaimRegistry()
        #expect(claims.generation(of: a) == -1, "claims nothing yet")
        #expect(claims.claim(a, ids: ["apps:configmap/x", "apps:configmap/y"]).isEmpty)
        let first = claims.generation(of: a)
        #expect(first >= 0)
        _ = claims.claim(b, ids: ["apps:configmap/z"])
        #expect(claims.generation(of: a) == first, "no overlap: nothing to tell")
        _ = claims.claim(a, ids: ["apps:configmap/x", "apps:configmap/y"])
        #expect(claims.generation(of: a) == first, "its own claims of the same ids")
        #expect(claims.claim(b, ids: ["apps:configmap/z", "apps:configmap/y"]) == ["apps:configmap/y": [a]])
        let overlapped = claims.generation(of: a)
        #expect(overlapped != first)
        _ = claims.claim(b, ids: ["apps:configmap/z"])
        #expect(claims.generation(of: a) != overlapped, "the overlap ended")
        let ended = claims.generation(of: a)
        _ = claims.claim(b, ids: ["apps:configmap/x"])
        claims.release(b)
        #expect(claims.generation(of: a) != ended, "a released instance lets go of its overlaps")
        claims.release(a)
        #expect(claims.generation(of: a) == -1)
    }

    @Test("ids compare and hash by their four parts, however their strings were made")
    func resourceIDs() {
        let namespace = String("apps".reversed().reversed())
        let id = ResourceID(group: "apps", kind: "Deployment", namespace: "apps", name: "web")
        let same = ResourceID(apiVersion: "apps/v1", kind: "Deployment", namespace: namespace, name: "w" + "eb")
        #expect(id == same)
        #expect(Set([id, same]).count == 1)
        for other in [ResourceID(group: "", kind: "Deployment", namespace: "apps", name: "web"),
                      ResourceID(group: "apps", kind: "StatefulSet", namespace: "apps", name: "web"),
                      ResourceID(group: "apps", kind: "Deployment", namespace: nil, name: "web"),
                      ResourceID(group: "apps", kind: "Deployment", namespace: "apps", name: "api")] {
            #expect(other != id)
            #expect(Set([id, other]).count == 2)
        }
    }
}
