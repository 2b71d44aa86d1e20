import Foundation
import GitTesting
import ImageAutomation
import Testing

/// Against Debian's docker-registry (distribution 2.8) on loopback, started per test.
@Suite("Registry client and cache against a real docker-registry", .serialized)
struct RegistryTests {
    static let day: TimeInterval = 86_400
    static let base = Date(timeIntervalSince1970: 1_700_000_000)

    /// app: five tags, created out of name order (stg-2 is the newest stg build).
    static func seed(_ registry: LocalRegistry, repository: String = "team/app") throws {
        for (tag, age) in [("1.0.0", 9.0), ("1.1.0", 8), ("1.2.0-rc.1", 7), ("2.0.0", 6), ("stg-1", 2), ("stg-2", 3), ("stg-10", 1)] {
            try registry.push(repository, tag: tag, created: base.addingTimeInterval(-age * day))
        }
    }

    func settings(_ timeout: Duration = .seconds(10)) -> RegistryHostSettings {
        var s = RegistryHostSettings()
        s.insecure = true
        s.timeout = timeout
        return s
    }

    @Test("tags are listed across pages; creation times come from the config blob; semver, glob and regex pick as Flux v1 did")
    func anonymous() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try Self.seed(registry)
        let client = RegistryClient(limits: HostRateLimits())
        let image = try #require(ImageRef("\(registry.host)/team/app:1.0.0"))
        // distribution 2.8 does not paginate tag lists; the proxy pages them as Docker Hub does.
        let pager = try RegistryFaultProxy(upstream: registry, mode: .pages(2))
        defer { pager.stop() }
        let paged = try await client.tags(ImageRef("\(pager.host)/team/app")!, credentials: nil, settings: settings(), pageSize: 2)
        #expect(paged == ["1.0.0", "1.1.0", "1.2.0-rc.1", "2.0.0", "stg-1", "stg-10", "stg-2"])
        #expect(client.requests == 4, "seven tags in pages of two, following Link")

        let info = try await client.info(image, tag: "stg-2", credentials: nil, settings: settings())
        #expect(info.created == Self.base.addingTimeInterval(-3 * Self.day))
        #expect(info.digest.hasPrefix("sha256:"))

        let cache = RegistryCache(client: client)
        let scan = try await cache.tags(image, credentials: nil, settings: settings(), maxAge: .seconds(60))
        let stg = scan.tags.filter { $0.hasPrefix("stg-") }
        let infos = try await cache.infos(image, tags: stg, credentials: nil, settings: settings())
        #expect(TagSelection.latest(tags: scan.tags, filter: try TagFilter("semver:~1"), info: [:]) == "1.1.0", "no prerelease unless asked")
        #expect(TagSelection.latest(tags: scan.tags, filter: try TagFilter("semver:>=1.2.0-rc.0 <2"), info: [:]) == "1.2.0-rc.1")
        #expect(TagSelection.latest(tags: scan.tags, filter: try TagFilter("glob:stg-*"), info: infos) == "stg-10", "newest by creation time, not by name")
        #expect(TagSelection.latest(tags: scan.tags, filter: try TagFilter("regex:^stg-[12]$"), info: infos) == "stg-1")
        #expect(TagSelection.latest(tags: scan.tags, filter: try TagFilter("glob:prod-*"), info: infos) == nil)

        // A rescan within maxAge asks nothing; after it, one tag list; known tags are not fetched again.
        let before = client.requests
        _ = try await cache.tags(image, credentials: nil, settings: settings(), maxAge: .seconds(60))
        _ = try await cache.infos(image, tags: stg, credentials: nil, settings: settings())
        #expect(client.requests == before)
        _ = try await cache.tags(image, credentials: nil, settings: settings(), maxAge: .zero)
        _ = try await cache.infos(image, tags: stg, credentials: nil, settings: settings())
        #expect(client.requests == before + 1, "one tag-list request per rescan, no manifest for known tags")

        await #expect(throws: RegistryError.self) {
            try await client.tags(ImageRef("\(registry.host)/team/missing")!, credentials: nil, settings: settings())
        }

        // Bounded: past maxTags the least recently used repository goes.
        for t in ["1", "2", "3", "4"] { try registry.push("team/other", tag: t, created: Self.base) }
        let other = try #require(ImageRef("\(registry.host)/team/other"))
        let small = RegistryCache(client: client, maxTags: 10)
        _ = try await small.tags(image, credentials: nil, settings: settings(), maxAge: .seconds(60))
        _ = try await small.tags(other, credentials: nil, settings: settings(), maxAge: .seconds(60))
        let size = await small.size
        #expect(size.repositories == 1 && size.tags == 4, "7 + 4 tags > 10: team/app was dropped")
        let r = client.requests
        _ = try await small.tags(other, credentials: nil, settings: settings(), maxAge: .seconds(60))
        #expect(client.requests == r, "the kept entry answers")
        _ = try await small.tags(image, credentials: nil, settings: settings(), maxAge: .seconds(60))
        #expect(client.requests == r + 1, "the dropped one is asked again")
    }

    @Test("Basic auth: refused without credentials with a clear error, served with them; cache entries never cross credentials")
    func basic() async throws {
        let registry = try LocalRegistry(auth: .basic(user: "ci", password: "s3cret-basic"))
        defer { registry.stop() }
        try Self.seed(registry)
        let client = RegistryClient(limits: HostRateLimits())
        let image = try #require(ImageRef("\(registry.host)/team/app"))
        do {
            _ = try await client.tags(image, credentials: nil, settings: settings())
            Issue.record("anonymous access accepted")
        } catch {
            #expect(error.kind == .unauthorized)
            #expect(error.message.contains("team/app") && error.message.contains(registry.host))
        }
        let good = RegistryCredentials(username: "ci", password: "s3cret-basic")
        let bad = RegistryCredentials(username: "ci", password: "wrong")
        #expect(try await client.tags(image, credentials: good, settings: settings()).count == 7)
        do {
            _ = try await client.tags(image, credentials: bad, settings: settings())
            Issue.record("wrong password accepted")
        } catch {
            #expect(error.kind == .unauthorized)
            #expect(!error.message.contains("wrong"), "no credential in the message")
        }

        let cache = RegistryCache(client: client)
        _ = try await cache.tags(image, credentials: good, settings: settings(), maxAge: .seconds(60))
        await #expect(throws: RegistryError.self, "a cached answer for good credentials is not served to bad ones") {
            try await cache.tags(image, credentials: bad, settings: settings(), maxAge: .seconds(60))
        }
        await #expect(throws: RegistryError.self, "nor to anonymous") {
            try await cache.tags(image, credentials: nil, settings: settings(), maxAge: .seconds(60))
        }
        let before = client.requests
        _ = try await cache.tags(image, credentials: RegistryCredentials(username: "ci", password: "s3cret-basic"), settings: settings(), maxAge: .seconds(60))
        #expect(client.requests == before, "the same credentials share the entry")
        #expect(good.identity != bad.identity && !good.identity.contains("s3cret"))
    }

    @Test("token auth: the Bearer challenge is answered from the token service with Basic credentials, and the token is reused")
    func token() async throws {
        let registry = try LocalRegistry(auth: .token(user: "robot", password: "t0ken-pass"))
        defer { registry.stop() }
        try Self.seed(registry)
        let client = RegistryClient(limits: HostRateLimits())
        let image = try #require(ImageRef("\(registry.host)/team/app"))
        let credentials = RegistryCredentials(username: "robot", password: "t0ken-pass")
        func tokensIssued() throws -> Int {
            let stats = try sh(["curl", "-sf", "http://127.0.0.1:\(registry.tokenPort!)/stats"])
            return Int(stats.filter(\.isNumber)) ?? -1
        }
        let issued = try tokensIssued()
        #expect(try await client.tags(image, credentials: credentials, settings: settings()).count == 7)
        let info = try await client.info(image, tag: "2.0.0", credentials: credentials, settings: settings())
        #expect(info.created == Self.base.addingTimeInterval(-6 * Self.day))
        #expect(try tokensIssued() - issued == 1, "one token for the tag list, the manifest and the blob")
        do {
            _ = try await client.tags(image, credentials: nil, settings: settings())
            Issue.record("anonymous token accepted")
        } catch {
            #expect(error.kind == .unauthorized)
        }
    }

    @Test("429 with Retry-After is waited out host-wide; a hanging registry times out without delaying another")
    func faults() async throws {
        let registry = try LocalRegistry()
        defer { registry.stop() }
        try Self.seed(registry)
        let storm = try RegistryFaultProxy(upstream: registry, mode: .tooManyRequests(2))
        defer { storm.stop() }
        let limits = HostRateLimits()
        let client = RegistryClient(limits: limits)
        let image = try #require(ImageRef("\(storm.host)/team/app"))
        let started = Date()
        let tags = try await client.tags(image, credentials: nil, settings: settings())
        #expect(tags.count == 7)
        let stats = try storm.stats()
        #expect(stats.limited == 2 && stats.requests == 3)
        #expect(Date().timeIntervalSince(started) >= 2, "two Retry-After: 1 waited out")
        #expect(stats.times[2] - stats.times[1] >= 0.95, "no request before Retry-After passed")

        let hung = try RegistryFaultProxy(upstream: registry, mode: .hang)
        defer { hung.stop() }
        let slow = Task { () -> RegistryError? in
            do {
                _ = try await client.tags(ImageRef("\(hung.host)/team/app")!, credentials: nil, settings: settings(.seconds(2)))
                return nil
            } catch { return error as? RegistryError }
        }
        let t = Date()
        #expect(try await client.tags(ImageRef("\(registry.host)/team/app")!, credentials: nil, settings: settings()).count == 7)
        #expect(Date().timeIntervalSince(t) < 1.5, "the healthy registry answers while the other hangs")
        let error = await slow.value
        #expect(error?.kind == .timeout)
        #expect(error?.message.contains(hung.host) == true)

        // The cache: concurrent scans of one key share one request; a cancelled waiter stops
        // waiting at once even though its registry hangs.
        let cache = RegistryCache(client: client)
        let hungImage = try #require(ImageRef("\(hung.host)/team/app"))
        let asked = try hung.stats().requests
        let first = Task { try await cache.tags(hungImage, credentials: nil, settings: settings(.seconds(30)), maxAge: .zero) }
        let second = Task { try await cache.tags(hungImage, credentials: nil, settings: settings(.seconds(30)), maxAge: .zero) }
        try await Task.sleep(for: .milliseconds(500))
        #expect(try hung.stats().requests - asked == 1, "the second scan joined the first")
        let cancelledAt = Date()
        first.cancel()
        _ = await first.result
        #expect(Date().timeIntervalSince(cancelledAt) < 2, "cancellation is not held up by the hung registry")
        second.cancel()
        let secondResult = await second.result
        if case .success = secondResult { Issue.record("a hung scan succeeded") }
    }

    @Test("an insecure host is tried over plain HTTP, then over TLS without verification; a secure one must verify")
    func insecureHosts() async throws {
        let tls = try LocalRegistry(tls: true)
        defer { tls.stop() }
        try tls.push("team/app", tag: "1.0.0", created: Self.base)
        let plain = try LocalRegistry()
        defer { plain.stop() }
        try plain.push("team/app", tag: "2.0.0", created: Self.base)
        let client = RegistryClient(limits: HostRateLimits())
        #expect(try await client.tags(ImageRef("\(tls.host)/team/app")!, credentials: nil, settings: settings()) == ["1.0.0"])
        #expect(try await client.tags(ImageRef("\(plain.host)/team/app")!, credentials: nil, settings: settings()) == ["2.0.0"])
        var secure = RegistryHostSettings()
        secure.timeout = .seconds(5)
        do {
            _ = try await client.tags(ImageRef("\(tls.host)/team/app")!, credentials: nil, settings: secure)
            Issue.record("a self-signed certificate was accepted for a host not marked insecure")
        } catch {
            #expect(error.kind == .unreachable)
        }
    }
}
