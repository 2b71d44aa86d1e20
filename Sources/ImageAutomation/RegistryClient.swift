import AsyncHTTPClient
import Crypto
import Foundation
import KubeModel
import Metrics
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Credentials for one registry host (a `docker-registry` Secret's `auths` entry).
public struct RegistryCredentials: Sendable, Hashable {
    public var username: String
    public var password: String
    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// A name for the credentials that reveals nothing of them: what caches are keyed by.
    public var identity: String {
        let digest = SHA256.hash(data: Array("\(username)\u{0}\(password)".utf8))
        return "cred-" + digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }
}

public struct RegistryError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case unauthorized = "Unauthorized", notFound = "NotFound", rateLimited = "RateLimited",
                                         unreachable = "Unreachable", invalid = "Invalid", timeout = "Timeout",
                                         credentialsUnavailable = "RegistryCredentialsUnavailable" }
    public var kind: Kind
    public var message: String
    public var description: String { message }
}

/// What the automation needs of one tag: its manifest digest and the image's creation time.
public struct ImageInfo: Sendable, Hashable {
    public var tag: String
    public var digest: String
    public var created: Date?
}

/// How to reach one registry host.
public struct RegistryHostSettings: Sendable, Hashable {
    /// TLS without verification, or plain HTTP when the host does not speak TLS (a local registry).
    public var insecure = false
    public var rps = 50.0
    public var burst = 10
    public var timeout: Duration = .seconds(20)
    public init() {}
}

/// The Docker Registry HTTP API v2 / OCI distribution: tag lists (paginated), manifests (image
/// lists and OCI indexes resolved to one platform), config blobs for the creation time. Auth is
/// anonymous, Basic, or the Bearer token flow the `WWW-Authenticate` challenge names; tokens are
/// kept per (host, scope, credentials) until they expire. A 429 is honoured host-wide through
/// `HostRateLimits` (every instance waits its `Retry-After`). Errors name the registry and image,
/// never a credential.
public final class RegistryClient: Sendable {
    let http: HTTPClient
    let insecureHTTP: HTTPClient
    let limits: HostRateLimits
    /// Registry hosts mapped to base URLs (`http://127.0.0.1:5000`): how tests reach a
    /// loopback registry under a cloud registry's name. Empty in the operator.
    let endpoints: [String: String]
    private let tokens = Mutex<[String: (token: String, expires: ContinuousClock.Instant)]>([:])
    /// For insecure hosts: the scheme that worked. Plain HTTP is tried first: a TLS server
    /// answers it at once with a 400 (or closes), whereas a TLS handshake sent to a plain-HTTP
    /// server waits for the connect timeout. Then HTTPS without certificate verification.
    private let insecureSchemes = Mutex<[String: String]>([:])
    private let requestCount = Atomic<Int>(0)
    /// Requests sent (tests and the bench count them).
    public var requests: Int { requestCount.load(ordering: .relaxed) }

    /// Process-wide HTTP clients (never shut down: registries are used for the process's life,
    /// and their connection pools are shared by every instance).
    static let sharedHTTP: HTTPClient = {
        var config = HTTPClient.Configuration()
        config.redirectConfiguration = .follow(max: 5, allowCycles: false)
        config.timeout = .init(connect: .seconds(10), read: .seconds(30))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }()
    static let sharedInsecureHTTP: HTTPClient = {
        var config = HTTPClient.Configuration(certificateVerification: .none)
        config.redirectConfiguration = .follow(max: 5, allowCycles: false)
        config.timeout = .init(connect: .seconds(10), read: .seconds(30))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }()

    public init(limits: HostRateLimits = .shared, endpoints: [String: String] = [:]) {
        http = Self.sharedHTTP
        insecureHTTP = Self.sharedInsecureHTTP
        self.limits = limits
        self.endpoints = endpoints
    }

    static let manifestTypes = [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ].joined(separator: ", ")

    /// Every tag of `image`'s repository (following `Link` pages).
    public func tags(_ image: ImageRef, credentials: RegistryCredentials?, settings: RegistryHostSettings,
                     pageSize: Int = 1000) async throws(RegistryError) -> [String] {
        var path: String? = "/v2/\(image.repository)/tags/list?n=\(pageSize)"
        var tags: [String] = []
        var pages = 0
        while let p = path, pages < 1000 {
            pages += 1
            let response = try await get(p, image: image, credentials: credentials, settings: settings, accept: "application/json")
            guard let body = try? JSONValue.parse(response.body), let list = body["tags"]?.arrayValue else {
                if response.body.isEmpty || (try? JSONValue.parse(response.body))?["tags"] == .null { break }
                throw RegistryError(kind: .invalid, message: "\(image.name): the tag list is not JSON with \"tags\"")
            }
            tags += list.compactMap(\.stringValue)
            path = Self.nextPage(response.headers["link"].first)
        }
        return tags
    }

    /// The digest and creation time of `image:tag`.
    public func info(_ image: ImageRef, tag: String, credentials: RegistryCredentials?, settings: RegistryHostSettings) async throws(RegistryError) -> ImageInfo {
        let response = try await get("/v2/\(image.repository)/manifests/\(tag)", image: image, credentials: credentials, settings: settings, accept: Self.manifestTypes)
        let digest = response.headers["docker-content-digest"].first ?? "sha256:" + SHA256.hash(data: response.body).map { String(format: "%02x", $0) }.joined()
        guard var manifest = try? JSONValue.parse(response.body) else {
            throw RegistryError(kind: .invalid, message: "\(image.name):\(tag): the manifest is not JSON")
        }
        // An image list or OCI index: take linux/amd64, else the first entry.
        if let entries = manifest["manifests"]?.arrayValue {
            let chosen = entries.first { $0["platform"]?["os"] == "linux" && $0["platform"]?["architecture"] == "amd64" } ?? entries.first
            guard let child = chosen?["digest"]?.stringValue else { return ImageInfo(tag: tag, digest: digest, created: nil) }
            let inner = try await get("/v2/\(image.repository)/manifests/\(child)", image: image, credentials: credentials, settings: settings, accept: Self.manifestTypes)
            guard let decoded = try? JSONValue.parse(inner.body) else {
                throw RegistryError(kind: .invalid, message: "\(image.name):\(tag): the platform manifest is not JSON")
            }
            manifest = decoded
        }
        guard let config = manifest["config"]?["digest"]?.stringValue else {
            // Schema 1 manifests carry the creation time in their v1 history.
            let created = manifest["history"]?.arrayValue?.first?["v1Compatibility"]?.stringValue
                .flatMap { try? JSONValue.parse(Array($0.utf8)) }?["created"]?.stringValue.flatMap(Self.parseTime)
            return ImageInfo(tag: tag, digest: digest, created: created)
        }
        let blob = try await get("/v2/\(image.repository)/blobs/\(config)", image: image, credentials: credentials, settings: settings, accept: "*/*")
        let created = (try? JSONValue.parse(blob.body))?["created"]?.stringValue.flatMap(Self.parseTime)
        return ImageInfo(tag: tag, digest: digest, created: created)
    }

    static func parseTime(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: s) { return d }
        // Nanosecond fractions (Go's RFC3339Nano) are too long for the formatter: cut to millis.
        if let dot = s.firstIndex(of: "."), let end = s[dot...].firstIndex(where: { !$0.isNumber && $0 != "." }) {
            let trimmed = String(s[..<dot]) + "." + String(s[s.index(after: dot)..<end].prefix(3)) + String(s[end...])
            f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return f.date(from: trimmed)
        }
        return nil
    }

    /// `</v2/x/tags/list?n=1000&last=y>; rel="next"` → the path.
    static func nextPage(_ link: String?) -> String? {
        guard let link, let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">"), open < close,
              link.contains("rel=\"next\"") else { return nil }
        var target = String(link[link.index(after: open)..<close])
        if let scheme = target.range(of: "://"), let slash = target[scheme.upperBound...].firstIndex(of: "/") {
            target = String(target[slash...])
        }
        return target
    }

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
    }

    /// One GET with the host's rate limit, the auth challenge answered once, and 429s waited out
    /// (at most three times, at most a minute each).
    func get(_ path: String, image: ImageRef, credentials: RegistryCredentials?, settings: RegistryHostSettings, accept: String) async throws(RegistryError) -> Response {
        let host = image.apiHost
        let insecure = settings.insecure && !host.hasSuffix("docker.io")
        var scheme = insecure ? (insecureSchemes.withLock { $0[host] } ?? "http://") : "https://"
        var schemeKnown = !insecure || insecureSchemes.withLock { $0[host] } != nil
        var authorization: String? = cachedToken(host: host, repository: image.repository, credentials: credentials)
        var challenged = false
        var limited = 0
        while true {
            do { try await limits.acquire(host: host, rps: settings.rps, burst: settings.burst) } catch {
                throw RegistryError(kind: .timeout, message: "\(image.name): cancelled while waiting for the rate limit of \(host)")
            }
            let response: Response
            do {
                response = try await send((endpoints[host] ?? scheme + host) + path, authorization: authorization, accept: accept, image: image, settings: settings)
            } catch {
                // An insecure host that does not speak plain HTTP: TLS then.
                if !schemeKnown, scheme == "http://", error.kind == .unreachable {
                    scheme = "https://"
                    schemeKnown = true
                    continue
                }
                throw error
            }
            if !schemeKnown, scheme == "http://", response.status == 400 {
                // "Client sent an HTTP request to an HTTPS server": a TLS port.
                scheme = "https://"
                schemeKnown = true
                continue
            }
            if insecure { insecureSchemes.withLock { $0[host] = scheme } }
            switch response.status {
            case 200..<300:
                return response
            case 401 where !challenged:
                challenged = true
                authorization = try await answer(challenge: response.headers["www-authenticate"].first, host: host, image: image,
                                                 credentials: credentials, settings: settings)
            case 401, 403:
                throw RegistryError(kind: .unauthorized, message: "\(image.name): \(host) refused access (HTTP \(response.status))\(credentials == nil ? " without credentials" : " with the configured credentials")")
            case 404:
                throw RegistryError(kind: .notFound, message: "\(image.name): not found on \(host) (\(path.split(separator: "?")[0]))")
            case 429 where limited < 3:
                limited += 1
                let seconds = response.headers["retry-after"].first.flatMap(Double.init) ?? Double(1 << limited)
                let delay = Duration.milliseconds(Int64(min(60, max(0.1, seconds)) * 1000))
                limits.backOff(host: host, for: delay)
            case 429:
                throw RegistryError(kind: .rateLimited, message: "\(image.name): \(host) keeps answering 429 Too Many Requests")
            default:
                throw RegistryError(kind: .unreachable, message: "\(image.name): \(host) answered HTTP \(response.status) for \(path.split(separator: "?")[0])")
            }
        }
    }

    func send(_ url: String, authorization: String?, accept: String, image: ImageRef, settings: RegistryHostSettings) async throws(RegistryError) -> Response {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: "flotilla")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        do {
            let client = settings.insecure ? insecureHTTP : http
            let response = try await client.execute(request, timeout: .seconds(settings.timeout.components.seconds))
            requestCount.add(1, ordering: .relaxed)  // answered requests (a TLS attempt on a plain-HTTP host is not one)
            Self.counted(host: image.apiHost, code: "\(response.status.code)")
            let body = try await response.body.collect(upTo: 32 * 1024 * 1024)
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            Self.counted(host: image.apiHost, code: "timeout")
            throw RegistryError(kind: .timeout, message: "\(image.name): \(image.apiHost) did not answer within \(settings.timeout)")
        } catch {
            throw RegistryError(kind: .unreachable, message: "\(image.name): cannot reach \(image.apiHost): \(error)")
        }
    }

    /// `flotilla_registry_requests_total{host, code}`: every answered registry request (and
    /// timeouts, as code `timeout`), whichever instance's scan made it.
    static func counted(host: String, code: String) {
        Counter(label: "flotilla_registry_requests_total", dimensions: [("host", host), ("code", code)]).increment()
    }

    func tokenKey(host: String, repository: String, credentials: RegistryCredentials?) -> String {
        "\(host)|\(repository)|\(credentials?.identity ?? "anonymous")"
    }

    func cachedToken(host: String, repository: String, credentials: RegistryCredentials?) -> String? {
        let key = tokenKey(host: host, repository: repository, credentials: credentials)
        return tokens.withLock { all in
            guard let t = all[key] else { return nil }
            if t.expires <= .now {
                all[key] = nil
                return nil
            }
            return t.token
        }
    }

    /// The Authorization header that answers a `WWW-Authenticate` challenge.
    func answer(challenge: String?, host: String, image: ImageRef, credentials: RegistryCredentials?, settings: RegistryHostSettings) async throws(RegistryError) -> String {
        guard let challenge else {
            throw RegistryError(kind: .unauthorized, message: "\(image.name): \(host) asks for authentication without a challenge")
        }
        let (scheme, params) = Self.parseChallenge(challenge)
        if scheme == "basic" {
            guard let credentials else {
                throw RegistryError(kind: .unauthorized, message: "\(image.name): \(host) needs credentials (Basic) and none are configured")
            }
            return "Basic " + Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString()
        }
        guard scheme == "bearer", let realm = params["realm"], var url = URLComponents(string: realm) else {
            throw RegistryError(kind: .unauthorized, message: "\(image.name): \(host) sent an unsupported challenge (\(scheme))")
        }
        var query = url.queryItems ?? []
        if let service = params["service"] { query.append(URLQueryItem(name: "service", value: service)) }
        query.append(URLQueryItem(name: "scope", value: params["scope"] ?? "repository:\(image.repository):pull"))
        url.queryItems = query
        guard let tokenURL = url.string else {
            throw RegistryError(kind: .unauthorized, message: "\(image.name): bad token realm from \(host)")
        }
        var request = HTTPClientRequest(url: tokenURL)
        if let credentials {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(credentials.username):\(credentials.password)".utf8).base64EncodedString())
        }
        requestCount.add(1, ordering: .relaxed)
        let body: [UInt8]
        let status: Int
        do {
            let client = settings.insecure ? insecureHTTP : http
            let response = try await client.execute(request, timeout: .seconds(settings.timeout.components.seconds))
            status = Int(response.status.code)
            Self.counted(host: host, code: "\(status)")
            body = Array(buffer: try await response.body.collect(upTo: 1024 * 1024))
        } catch {
            throw RegistryError(kind: .unreachable, message: "\(image.name): cannot reach the token service of \(host): \(error)")
        }
        guard status == 200, let json = try? JSONValue.parse(body),
              let token = json["token"]?.stringValue ?? json["access_token"]?.stringValue else {
            throw RegistryError(kind: .unauthorized, message: "\(image.name): the token service of \(host) refused a token (HTTP \(status))")
        }
        let lifetime = json["expires_in"]?.intValue.map(Double.init) ?? 60
        let header = "Bearer " + token
        let key = tokenKey(host: host, repository: image.repository, credentials: credentials)
        tokens.withLock { $0[key] = (header, .now + .seconds(max(1, lifetime - 5))) }
        return header
    }

    /// `Bearer realm="…",service="…",scope="…"` → ("bearer", params).
    static func parseChallenge(_ header: String) -> (String, [String: String]) {
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        let space = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        let scheme = trimmed[..<space].lowercased()
        var params: [String: String] = [:]
        var rest = trimmed[space...].drop { $0 == " " }
        while !rest.isEmpty {
            guard let eq = rest.firstIndex(of: "=") else { break }
            let key = rest[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            rest = rest[rest.index(after: eq)...]
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                let close = rest.firstIndex(of: "\"") ?? rest.endIndex
                value = String(rest[..<close])
                rest = close < rest.endIndex ? rest[rest.index(after: close)...] : rest[close...]
            } else {
                let comma = rest.firstIndex(of: ",") ?? rest.endIndex
                value = rest[..<comma].trimmingCharacters(in: .whitespaces)
                rest = rest[comma...]
            }
            params[key] = value
            rest = rest.drop { $0 == "," || $0 == " " }
        }
        return (scheme, params)
    }
}
