import Foundation
import KubeModel
import Manifests
import Primitives
import Sync
import Testing

@Suite("Unified diff and compared objects (pure)")
struct UnifiedDiffTests {
    /// GNU diff's hunks for the same texts (its `---`/`+++` lines dropped). Run on a thread of
    /// its own (`Subprocess`): a blocking wait on the test's pool could starve every other test.
    func gnuDiff(_ old: String, _ new: String) async throws -> [String] {
        let dir = NSTemporaryDirectory() + "udiff-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try old.write(toFile: dir + "/a", atomically: true, encoding: .utf8)
        try new.write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        let result = try await Subprocess.run(["/usr/bin/diff", "-u", dir + "/a", dir + "/b"], environment: ["PATH": "/usr/bin:/bin"],
                                              limits: .init(timeout: .seconds(10)))
        let out = String(decoding: result.stdout, as: UTF8.self)
        return out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).dropFirst(2).filter { !$0.isEmpty }
    }

    @Test("hunks match GNU diff -u: a change in the middle, at both ends, an insertion into nothing, a deletion of everything, far-apart changes")
    func matchesGNUDiff() async throws {
        let base = (1...20).map { "line \($0)" }
        var middle = base; middle[9] = "changed 10"
        var ends = base; ends[0] = "first"; ends.append("twenty-one")
        var apart = base; apart[2] = "three"; apart[17] = "eighteen"; apart.remove(at: 10)
        var close = base; close[5] = "six"; close[10] = "eleven"
        let cases: [([String], [String])] = [(base, middle), (base, ends), ([], base), (base, []), (base, apart), (base, close)]
        for (old, new) in cases {
            let text = { (lines: [String]) in lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }
            let gnu = try await gnuDiff(text(old), text(new))
            #expect(UnifiedDiff.hunks(old: old, new: new) == gnu)
        }
        #expect(UnifiedDiff.hunks(old: base, new: base).isEmpty)
        #expect(UnifiedDiff.make(old: "a\n", new: "a\n", oldName: "x", newName: "y") == "")
    }

    @Test("a Secret's values never show: equal ones are ***, changed ones *** (before) and *** (after); server fields and the checksum are left out")
    func secretsMasked() {
        let live: JSONValue = ["apiVersion": "v1", "kind": "Secret",
                               "metadata": ["name": "creds", "namespace": "a", "resourceVersion": "12", "uid": "u", "managedFields": [["manager": "flotilla"]],
                                            "annotations": ["fluxcd.io/sync-checksum": "abc",
                                                            "kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"password\":\"aHVudGVyMg==\"}}"]],
                               "data": ["user": "YWRtaW4=", "password": "aHVudGVyMg=="]]
        var merged = live
        merged["data"]?["password"] = "Y29ycmVjdA=="
        merged["metadata"]?["annotations"] = ["fluxcd.io/sync-checksum": "def"]
        let diff = ComparedObject.diff(live: live, merged: merged)
        #expect(diff.contains("-  password: \"*** (before)\"\n+  password: \"*** (after)\""))
        #expect(diff.contains("   user: \"***\""))
        for secret in ["aHVudGVyMg", "Y29ycmVjdA", "YWRtaW4", "resourceVersion", "managedFields", "sync-checksum", "uid", "last-applied"] {
            #expect(!diff.contains(secret), "\(secret) left out")
        }
        #expect(diff.hasPrefix("diff -u -N live/v1.Secret.a.creds merged/v1.Secret.a.creds\n--- live/v1.Secret.a.creds\n+++ merged/v1.Secret.a.creds\n"))
        let created = ComparedObject.diff(live: nil, merged: merged)
        #expect(created.contains("@@ -0,0 +1,"))
        #expect(created.contains("+  password: \"***\""))
        #expect(ComparedObject.diff(live: live, merged: live).isEmpty)
    }
}
