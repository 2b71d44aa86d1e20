import Foundation
import ImageAutomation
import KubeModel
import Testing

@Suite("Workloads in files and in-place image edits")
struct EditorTests {
    static let file = """
        # The web tier — ünïcode. Keep this comment.
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web   # trailing comment
          annotations:
            fluxcd.io/automated: "true"
            fluxcd.io/tag.app: semver:~1.2
        spec:
          template:
            spec:
              initContainers:
                - name: migrate
                  image: 'registry.local:5000/team/migrate:1.0'   # quoted
              containers:
                - {name: app, image: "registry.local:5000/team/app:1.2.0"}
                - name: sidecar
                  image: busybox:1.36
        ---
        apiVersion: batch/v1
        kind: CronJob
        metadata: {name: nightly, namespace: jobs}
        spec:
          jobTemplate:
            spec:
              template:
                spec:
                  containers:
                  - name: job
                    image: registry.local:5000/team/job:2024.1   # ünïcode comment before
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: not-a-workload}
        data: {image: nginx:1}

        """

    @Test("workloads are found with their policies and every container image, init containers and CronJobs included")
    func scan() throws {
        let found = try WorkloadScanner.workloads(in: Array(Self.file.utf8), file: "apps/web.yaml", defaultNamespace: "team")
        #expect(found.map(\.id.description) == ["team:deployment/web", "jobs:cronjob/nightly"])
        let web = try #require(found.first)
        #expect(web.policy.automated)
        #expect(web.containers.map(\.name) == ["migrate", "app", "sidecar"])
        #expect(web.containers.map(\.initContainer) == [true, false, false])
        #expect(web.containers[1].image == "registry.local:5000/team/app:1.2.0")
        #expect(found[1].containers.map(\.image) == ["registry.local:5000/team/job:2024.1"])
    }

    @Test("an edit changes only the image scalar: comments, quotes, flow style and layout stay byte for byte")
    func edit() throws {
        let bytes = Array(Self.file.utf8)
        let web = WorkloadID(namespace: "team", kind: "Deployment", name: "web")
        var out = try WorkloadScanner.settingImage("registry.local:5000/team/app:1.2.7", of: "app", in: web, bytes: bytes,
                                                   file: "apps/web.yaml", defaultNamespace: "team")
        #expect(String(decoding: out, as: UTF8.self) == Self.file.replacingOccurrences(of: "\"registry.local:5000/team/app:1.2.0\"", with: "\"registry.local:5000/team/app:1.2.7\""))
        out = try WorkloadScanner.settingImage("registry.local:5000/team/migrate:1.1", of: "migrate", in: web, bytes: out,
                                               file: "apps/web.yaml", defaultNamespace: "team")
        out = try WorkloadScanner.settingImage("busybox:1.37", of: "sidecar", in: web, bytes: out, file: "apps/web.yaml", defaultNamespace: "team")
        let job = WorkloadID(namespace: "jobs", kind: "CronJob", name: "nightly")
        out = try WorkloadScanner.settingImage("registry.local:5000/team/job:2024.2", of: "job", in: job, bytes: out,
                                               file: "apps/web.yaml", defaultNamespace: "team")
        let expected = Self.file
            .replacingOccurrences(of: "team/app:1.2.0", with: "team/app:1.2.7")
            .replacingOccurrences(of: "'registry.local:5000/team/migrate:1.0'", with: "'registry.local:5000/team/migrate:1.1'")
            .replacingOccurrences(of: "busybox:1.36", with: "busybox:1.37")
            .replacingOccurrences(of: "team/job:2024.1", with: "team/job:2024.2")
        #expect(String(decoding: out, as: UTF8.self) == expected, "non-ASCII earlier in the file does not shift the edit")
        #expect(throws: WorkloadScanner.Failure.self) {
            try WorkloadScanner.settingImage("x:1", of: "missing", in: web, bytes: bytes, file: "apps/web.yaml", defaultNamespace: "team")
        }
    }

    @Test("malformed YAML names the file and line")
    func malformed() {
        do {
            _ = try WorkloadScanner.workloads(in: Array("kind: Deployment\nmetadata: {name: x\n".utf8), file: "apps/bad.yaml", defaultNamespace: "d")
            Issue.record("accepted")
        } catch {
            #expect(error.description.hasPrefix("apps/bad.yaml:"))
        }
    }
}
