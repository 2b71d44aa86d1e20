import AsyncHTTPClient
import Foundation
import Primitives
import Synchronization

/// Registry logins from the operator pod's platform identity, for images on ECR, Google's
/// registries and ACR that no Secret gives credentials for. The install's policy decides which
/// providers are used and which namespaces may use them; a refusal is an error the instance
/// reports, never a fallback to anonymous tags another instance read. Logins are cached per
/// token (ECR account and region, Google, ACR registry) until shortly before they expire; a
/// failure is remembered and retried after a backoff (5 s doubling to 5 minutes), so a metadata
/// endpoint that is down is not asked by every instance at every scan; concurrent logins of one
/// token share one flight.
public final class PlatformCredentials: Sendable {
    public let policy: PlatformCredentialPolicy
    let environment: [String: String]
    let http: CredentialHTTP
    let endpoints: [String: String]

    private enum Cached {
        case login(PlatformLogin, refreshAfter: Date)
        case failure(RegistryError, retryAfter: Date, attempts: Int)
    }
    private let cache = Mutex<[String: Cached]>([:])
    private let flights = SingleFlight<String, PlatformLogin>()
    private let loginCount = Atomic<Int>(0)
    /// Logins asked of a platform (tests check the cache with it).
    public var logins: Int { loginCount.load(ordering: .relaxed) }

    static let retry = Backoff(base: .seconds(5), max: .seconds(300))

    /// `environment`: the process's (where the platform's variables are); `endpoints`: registry
    /// hosts mapped to base URLs, as `RegistryClient`'s (tests).
    public init(policy: PlatformCredentialPolicy, environment: [String: String] = ProcessInfo.processInfo.environment,
                endpoints: [String: String] = [:], timeout: Duration = .seconds(5)) {
        self.policy = policy
        self.environment = environment
        self.endpoints = endpoints
        self.http = CredentialHTTP(client: RegistryClient.sharedHTTP, timeout: timeout)
    }

    /// Credentials for `host` as an instance in `namespace` may have them: nil for a host of no
    /// cloud provider; an error when the policy refuses or the platform cannot give them.
    public func credentials(for host: String, namespace: String) async throws(RegistryError) -> RegistryCredentials? {
        guard let registry = CloudRegistry.classify(host) else { return nil }
        if let refusal = policy.refusal(registry, namespace: namespace) {
            throw RegistryError(kind: .credentialsUnavailable, message: "RegistryCredentialsUnavailable: \(refusal)")
        }
        let key = registry.tokenKey
        let now = Date()
        var attempts = 0
        switch cache.withLock({ $0[key] }) {
        case .login(let login, let refreshAfter)? where now < refreshAfter:
            return login.credentials
        case .failure(let error, let retryAfter, _)? where now < retryAfter:
            throw error
        case .failure(_, _, let n)?:
            attempts = n
        default:
            break
        }
        do {
            // Cached inside the flight, so a call arriving as the flight ends finds the login.
            let login = try await flights.run(key) { [self] in
                loginCount.add(1, ordering: .relaxed)
                let login = try await self.login(registry)
                cache.withLock { $0[key] = .login(login, refreshAfter: Self.refreshAfter(login.expires, now: Date())) }
                return login
            }.value
            return login.credentials
        } catch {
            let failure = error as? RegistryError ?? CredentialHTTP.failure("\(error)")
            let reported = RegistryError(kind: .credentialsUnavailable,
                                         message: failure.message.hasPrefix("RegistryCredentialsUnavailable") ? failure.message
                                             : "RegistryCredentialsUnavailable: \(registry.host) (\(registry.provider.title)): \(failure.message)")
            if !(error is CancellationError) {
                let delay = Self.retry.delay(attempt: attempts)
                cache.withLock { $0[key] = .failure(reported, retryAfter: Date().addingTimeInterval(delay.seconds), attempts: attempts + 1) }
            }
            throw reported
        }
    }

    /// A login is used until five minutes before it expires (half its life when shorter); one
    /// without an expiry for ten minutes; one already expired only for the scan that got it.
    static func refreshAfter(_ expires: Date?, now: Date) -> Date {
        guard let expires else { return now.addingTimeInterval(600) }
        let left = expires.timeIntervalSince(now)
        return left <= 0 ? now : expires.addingTimeInterval(-min(300, left / 2))
    }

    func login(_ registry: CloudRegistry) async throws(RegistryError) -> PlatformLogin {
        switch registry {
        case .ecr(let account, let region, let host):
            return try await ECRTokenSource(chain: AWSCredentialChain(environment: environment, http: http))
                .login(account: account, region: region, china: host.hasSuffix(".cn"))
        case .google:
            return try await GoogleTokenSource(environment: environment, http: http).login()
        case .azure(let host):
            let endpoints = endpoints
            return try await AzureTokenSource(environment: environment, http: http, endpoint: { endpoints[$0] ?? "https://\($0)" }).login(registry: host)
        }
    }
}
