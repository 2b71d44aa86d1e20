import AsyncHTTPClient
import Foundation
import KubeModel
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import Primitives

/// A Kubernetes API client: kubeconfig/in-cluster configuration, TLS, a connection pool, a QPS/burst
/// rate limit, retries with jittered backoff, typed errors, impersonation, discovery and watches.
/// Cheap to derive per identity with `impersonating(_:)`: derived clients share the connection pool,
/// the rate limiter and the discovery cache.
public final class KubeClient: Sendable {
    public let configuration: ClientConfiguration
    public let impersonation: Impersonation?
    let http: HTTPClient
    let limiter: RateLimiter
    let credentials: CredentialSource
    let logger: Logger
    public let mapper: RESTMapper
    private let ownsHTTP: Bool

    public init(configuration: ClientConfiguration, logger: Logger = Logger(label: "flotilla.kube")) throws(KubeConfigError) {
        self.configuration = configuration
        self.impersonation = configuration.impersonation
        self.logger = logger
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if configuration.insecureSkipTLSVerify {
                tls.certificateVerification = .none
            } else if let ca = configuration.caCertificatePEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
            }
            if let cert = configuration.clientCertificatePEM, let key = configuration.clientKeyPEM {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw KubeConfigError("bad TLS material for \(configuration.server): \(error)")
        }
        var http = HTTPClient.Configuration(tlsConfiguration: tls)
        // Watches hold a connection each; the pool must not make informers queue behind each other.
        http.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = configuration.maxConnectionsPerHost
        http.connectionPool.idleTimeout = .seconds(90)
        http.timeout = .init(connect: .seconds(10), read: nil)
        http.decompression = .disabled
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
        self.ownsHTTP = true
        self.limiter = RateLimiter(qps: configuration.qps, burst: configuration.burst)
        self.credentials = CredentialSource(configuration.credentials)
        self.mapper = RESTMapper()
    }

    private init(base: KubeClient, impersonation: Impersonation?) {
        self.configuration = base.configuration
        self.impersonation = impersonation
        self.http = base.http
        self.ownsHTTP = false
        self.limiter = base.limiter
        self.credentials = base.credentials
        self.logger = base.logger
        self.mapper = base.mapper
    }

    /// The same client acting as another identity (every request carries `Impersonate-*` headers).
    public func impersonating(_ impersonation: Impersonation?) -> KubeClient {
        KubeClient(base: self, impersonation: impersonation)
    }

    /// Closes the connection pool (only the client that created it owns it).
    public func shutdown() async throws {
        if ownsHTTP { try await http.shutdown() }
    }

    // MARK: requests

    public struct Response: Sendable {
        public var status: Int
        public var body: [UInt8]
        public var headers: [(String, String)]

        public var json: JSONValue {
            get throws(KubeError) {
                do { return try JSONValue.parse(body) } catch {
                    throw KubeError.transport("the server sent invalid JSON: \(error)")
                }
            }
        }
    }

    /// Sends one request, with rate limiting and retries. `idempotent` requests are retried on
    /// 5xx and connection errors; every request is retried on 429 (the server did not process it).
    public func send(_ method: HTTPMethod, _ path: String, body: [UInt8]? = nil, contentType: String = "application/json",
                     accept: String = "application/json", idempotent: Bool? = nil) async throws(KubeError) -> Response {
        let retriable = idempotent ?? (method != .POST)
        var attempt = 0
        var refreshedCredentials = false
        while true {
            do {
                try await limiter.acquire()
            } catch {
                throw KubeError.cancelled
            }
            let result: Result<Response, KubeError>
            do {
                result = .success(try await execute(method, path, body: body, contentType: contentType, accept: accept))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let response) where (200..<300).contains(response.status):
                return response
            case .success(let response):
                let error = KubeError.from(code: response.status, body: response.body,
                                           retryAfterHeader: response.headers.first { $0.0.lowercased() == "retry-after" }?.1)
                if error.isUnauthorized && !refreshedCredentials, await credentials.invalidate() {
                    refreshedCredentials = true
                    continue
                }
                guard attempt < configuration.maxRetries, error.isTooManyRequests || (retriable && error.isServerError) else { throw error }
                try await backoff(attempt: attempt, retryAfter: error.retryAfter, error: error, path: path)
            case .failure(let error):
                if Task.isCancelled { throw error }
                guard attempt < configuration.maxRetries, retriable, error.isTransport else { throw error }
                try await backoff(attempt: attempt, retryAfter: nil, error: error, path: path)
            }
            attempt += 1
        }
    }

    /// 100 ms doubling to 5 s, spread by ±50 % so that clients retrying together do not stay in step.
    static let retryBackoff = Backoff(base: .milliseconds(100), max: .seconds(5), jitter: 0.5...1.5)

    func backoff(attempt: Int, retryAfter: Duration?, error: KubeError, path: String) async throws(KubeError) {
        let wait = retryAfter ?? Self.retryBackoff.delay(attempt: attempt)
        logger.debug("retrying request", metadata: ["path": "\(path)", "attempt": "\(attempt + 1)", "code": "\(error.code)", "wait": "\(wait)"])
        do {
            try await Task.sleep(for: wait)
        } catch {
            throw KubeError.cancelled
        }
    }

    func makeRequest(_ method: HTTPMethod, _ path: String, body: [UInt8]?, contentType: String, accept: String) async throws(KubeError) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: configuration.server + path)
        request.method = method
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: configuration.userAgent)
        if let authorization = try await credentials.authorization() {
            request.headers.add(name: "Authorization", value: authorization)
        }
        if let impersonation {
            request.headers.add(name: "Impersonate-User", value: impersonation.user)
            for group in impersonation.groups { request.headers.add(name: "Impersonate-Group", value: group) }
        }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    func execute(_ method: HTTPMethod, _ path: String, body: [UInt8]?, contentType: String, accept: String) async throws(KubeError) -> Response {
        let request = try await makeRequest(method, path, body: body, contentType: contentType, accept: accept)
        do {
            let timeout = configuration.requestTimeout
            let response = try await http.execute(request, timeout: .nanoseconds(timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            let bytes = try await response.body.collect(upTo: 256 * 1024 * 1024)
            return Response(status: Int(response.status.code), body: Array(buffer: bytes), headers: response.headers.map { ($0.name, $0.value) })
        } catch let error as KubeError {
            throw error
        } catch {
            throw KubeError.transport("\(method.rawValue) \(Self.redact(configuration.server))\(path): \(error)")
        }
    }

    /// Strips user information from URLs shown in errors and logs.
    static func redact(_ url: String) -> String {
        guard let at = url.firstIndex(of: "@"), let scheme = url.range(of: "://"), scheme.upperBound < at else { return url }
        return String(url[..<scheme.upperBound]) + String(url[url.index(after: at)...])
    }
}
