import Foundation
import ImageAutomation
import KubeModel
import Testing

@Suite("Docker config Secrets and scan scope")
struct DockerConfigTests {
    func secret(_ key: String, _ text: String) -> Secret {
        Secret(metadata: ObjectMeta(name: "pull", namespace: "apps"), data: [key: Array(text.utf8)])
    }

    @Test("credentials by host from .dockerconfigjson (username/password or auth) and legacy .dockercfg; Docker Hub's aliases are one host")
    func credentials() {
        let auth = Data("bob:s3cret".utf8).base64EncodedString()
        let json = #"{"auths": {"https://index.docker.io/v1/": {"auth": "\#(auth)"}, "registry.example:5000": {"username": "alice", "password": "pw"}}}"#
        let found = DockerConfig.credentials(in: secret(".dockerconfigjson", json))
        #expect(found?[ImageRef.dockerHub] == RegistryCredentials(username: "bob", password: "s3cret"))
        #expect(found?["registry.example:5000"] == RegistryCredentials(username: "alice", password: "pw"))
        #expect(DockerConfig.credentials(in: secret(".dockercfg", #"{"ghcr.io": {"username": "u", "password": "p"}}"#))?["ghcr.io"] != nil)
        #expect(DockerConfig.credentials(in: secret("other", "{}")) == nil, "not a docker config")
    }

    @Test("include and exclude globs match the name as written and as normalised")
    func scanScope() throws {
        let nginx = try #require(ImageRef("nginx:1.25"))
        #expect(nginx.isScanned(include: [], exclude: []))
        #expect(nginx.isScanned(include: ["docker.io/library/*"], exclude: []))
        #expect(!nginx.isScanned(include: [], exclude: ["nginx"]))
        let k8s = try #require(ImageRef("registry.k8s.io/pause:3.9"))
        #expect(!k8s.isScanned(include: [], exclude: ["k8s.gcr.io/*", "registry.k8s.io/*"]))
    }
}
