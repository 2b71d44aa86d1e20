import ImageAutomation
import KubeModel
import Testing

@Suite("Image references, tag filters and policies")
struct PolicyTests {
    @Test("image references are split like Docker does and Docker Hub names are normalised")
    func references() throws {
        let nginx = try #require(ImageRef("nginx"))
        #expect(nginx.name == "docker.io/library/nginx")
        #expect(nginx.apiHost == "registry-1.docker.io")
        #expect(nginx.tag == nil)
        #expect(ImageRef("nginx:1.25")?.tag == "1.25")
        #expect(ImageRef("bitnami/redis:7")?.name == "docker.io/bitnami/redis")
        #expect(ImageRef("index.docker.io/library/nginx:1")?.name == "docker.io/library/nginx")
        let local = try #require(ImageRef("127.0.0.1:5000/team/app:v1.2.3"))
        #expect(local.host == "127.0.0.1:5000")
        #expect(local.repository == "team/app")
        #expect(local.tag == "v1.2.3")
        #expect(ImageRef("localhost/app")?.host == "localhost")
        #expect(ImageRef("localhost:5000/app")?.tag == nil, "the port is not a tag")
        let pinned = try #require(ImageRef("ghcr.io/org/app:1.0@sha256:abc"))
        #expect(pinned.digest == "sha256:abc")
        #expect(pinned.tag == "1.0")
        #expect(ImageRef("Nginx:1") == nil, "repositories are lower case")
        #expect(ImageRef("nginx:") == nil)
        #expect(ImageRef("a b") == nil)
        #expect(ImageRef.retag("nginx:1.25", to: "1.26") == "nginx:1.26", "the file's spelling is kept")
        #expect(ImageRef.retag("127.0.0.1:5000/app", to: "v2") == "127.0.0.1:5000/app:v2")
        #expect(ImageRef.retag("ghcr.io/org/app:1.0@sha256:abc", to: "1.1") == "ghcr.io/org/app:1.1")
    }

    @Test("semantic versions order as semver 2.0 says, prereleases before their release")
    func versions() throws {
        let sorted = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "v1.2", "1.10.0"]
        let versions = sorted.compactMap(SemanticVersion.init)
        #expect(versions.count == sorted.count)
        #expect(versions.shuffled().sorted() == versions)
        #expect(SemanticVersion("1.2")?.patch == 0)
        #expect(SemanticVersion("latest") == nil)
        #expect(SemanticVersion("1.2.3.4") == nil)
        #expect(SemanticVersion("1.2.3+build.5") == SemanticVersion("1.2.3"))
    }

    @Test("semver constraints: tilde, caret, wildcards, ranges, OR, and prereleases only when asked for")
    func constraints() throws {
        func allowed(_ c: String, _ tags: [String]) throws -> [String] {
            let constraint = try SemverConstraint(c)
            return tags.filter { SemanticVersion($0).map(constraint.allows) ?? false }
        }
        let tags = ["0.9.0", "1.0.0", "1.0.5", "1.1.0", "1.2.0-rc.1", "1.2.0", "1.9.9", "2.0.0", "v2.1.0", "latest"]
        #expect(try allowed("~1.0", tags) == ["1.0.0", "1.0.5"])
        #expect(try allowed("~1", tags) == ["1.0.0", "1.0.5", "1.1.0", "1.2.0", "1.9.9"])
        #expect(try allowed("^1.1", tags) == ["1.1.0", "1.2.0", "1.9.9"])
        #expect(try allowed("^0.9", tags) == ["0.9.0"])
        #expect(try allowed(">=1.2 <2", tags) == ["1.2.0", "1.9.9"])
        #expect(try allowed(">= 1.2, < 2", tags) == ["1.2.0", "1.9.9"])
        #expect(try allowed("1.x", tags) == ["1.0.0", "1.0.5", "1.1.0", "1.2.0", "1.9.9"])
        #expect(try allowed("*", tags).count == 8, "every release, no prerelease, nothing that is not a version")
        #expect(try allowed("1.0 - 1.1", tags) == ["1.0.0", "1.0.5", "1.1.0"])
        #expect(try allowed("<1 || >=2.1", tags) == ["0.9.0", "v2.1.0"])
        #expect(try allowed(">=1.2.0-rc.0 <1.2.1", tags) == ["1.2.0-rc.1", "1.2.0"])
        #expect(try allowed("!=1.0.0, 1.0.x", tags) == ["1.0.5"])
        #expect(throws: SemverConstraint.ParseError.self) { try SemverConstraint(">=one") }
        #expect(throws: SemverConstraint.ParseError.self) { try SemverConstraint("") }
    }

    @Test("filters: glob by default, semver, regex; an invalid filter is an error, not match-everything")
    func filters() throws {
        #expect(try TagFilter("1.*").matches("1.25"))
        #expect(try !TagFilter("glob:1.*").matches("2.0"))
        #expect(try TagFilter("glob:v{1,2}.?-[a-c]*").matches("v2.0-beta"))
        #expect(try !TagFilter("glob:v{1,2}.?-[a-c]*").matches("v3.0-beta"))
        #expect(try TagFilter("glob:[!m]*").matches("prod") && !TagFilter("glob:[!m]*").matches("main"))
        #expect(try TagFilter("semver:~1.0").matches("1.0.7"))
        #expect(try !TagFilter("semver:~1.0").matches("latest"))
        #expect(try TagFilter("regex:^stg-[0-9]+$").matches("stg-42"))
        #expect(try TagFilter("regexp:^stg").matches("stg-x"))
        #expect(try !TagFilter("regex:^stg").matches("prod-stg"))
        #expect(try TagFilter("semver:~1").ordersByVersion && !TagFilter("1.*").ordersByVersion)
        #expect(throws: TagFilter.Invalid.self) { try TagFilter("semver:~one") }
        #expect(throws: TagFilter.Invalid.self) { try TagFilter("regex:([") }
        #expect(throws: TagFilter.Invalid.self) { try TagFilter("glob:{a,b") }
    }

    @Test("policies read Flux v1 annotations with both prefixes; fluxcd.io wins; filter. is an alias of tag.")
    func policies() throws {
        let p = WorkloadPolicy(annotations: [
            "fluxcd.io/automated": "true",
            "flux.weave.works/locked": "true", "flux.weave.works/locked_msg": "incident 42", "fluxcd.io/locked_user": "ana",
            "fluxcd.io/tag.app": "semver:~1.2",
            "flux.weave.works/tag.app": "glob:*",
            "filter.fluxcd.io/sidecar": "regex:^v",
            "flux.weave.works/tag.init": "glob:stable-*",
        ])
        #expect(p.automated && p.locked)
        #expect(p.lockedMessage == "incident 42" && p.lockedUser == "ana")
        #expect(try p.filter(for: "app").description == "semver:~1.2")
        #expect(try p.filter(for: "sidecar").description == "regex:^v")
        #expect(try p.filter(for: "init").description == "glob:stable-*")
        #expect(try p.filter(for: "other").description == "glob:*")
        #expect(!WorkloadPolicy(annotations: ["fluxcd.io/automated": "false"]).automated)
    }
}
