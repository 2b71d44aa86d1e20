import Foundation
import KubeModel
import Primitives

/// Produces the `Authorization` header for requests: a static token, a token file re-read when it
/// changes, basic auth, or an exec credential plugin whose token is cached until it expires.
actor CredentialSource {
    let credentials: ClientConfiguration.Credentials
    private var fileToken: (token: String, modified: Date, checked: ContinuousClock.Instant)?
    private var execToken: (token: String, expires: Date?)?
    /// One plugin run at a time: concurrent requests wait for it.
    private let execFlight = SingleFlight<String, ExecToken>()

    init(_ credentials: ClientConfiguration.Credentials) {
        self.credentials = credentials
    }

    /// The header value, or nil for anonymous requests.
    func authorization() async throws(KubeError) -> String? {
        switch credentials {
        case .none: return nil
        case .token(let t): return "Bearer \(t)"
        case .basic(let u, let p): return "Basic " + Data("\(u):\(p)".utf8).base64EncodedString()
        case .tokenFile(let path): return "Bearer \(try readTokenFile(path))"
        case .exec(let exec): return "Bearer \(try await execCredential(exec))"
        }
    }

    /// Forgets a cached credential after a 401, so the next request fetches a fresh one.
    /// Returns true when retrying can help.
    func invalidate() -> Bool {
        switch credentials {
        case .exec:
            execToken = nil
            return true
        case .tokenFile:
            fileToken = nil
            return true
        default:
            return false
        }
    }

    private func readTokenFile(_ path: String) throws(KubeError) -> String {
        let now = ContinuousClock.now
        if let cached = fileToken, now - cached.checked < .seconds(1) { return cached.token }
        let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? Date.distantPast
        if let cached = fileToken, cached.modified == modified {
            fileToken?.checked = now
            return cached.token
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw KubeError.transport("cannot read the token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        fileToken = (token, modified, now)
        return token
    }

    private func execCredential(_ exec: KubeConfig.ExecConfig) async throws(KubeError) -> String {
        if let cached = execToken, cached.expires.map({ $0.timeIntervalSinceNow > 10 }) ?? true { return cached.token }
        do {
            // Kept inside the flight, so a request arriving as the flight ends finds the token.
            return try await execFlight.run(exec.command) { [self] in
                let fresh = try await Self.runPlugin(exec)
                await keep(fresh)
                return fresh
            }.value.token
        } catch let e as KubeError {
            throw e
        } catch {
            throw KubeError.transport("exec credential plugin \(exec.command): \(error)")
        }
    }

    private func keep(_ fresh: ExecToken) { execToken = (fresh.token, fresh.expires) }

    /// Runs a `client.authentication.k8s.io/v1` exec plugin and reads its ExecCredential.
    struct ExecToken: Sendable {
        var token: String
        var expires: Date?
    }

    /// Plugins that take longer than this are stopped (kubectl waits forever; a request here
    /// should not).
    static let pluginTimeout: Duration = .seconds(120)

    /// Runs the plugin on a thread of its own with `posix_spawn` and `waitpid` (`Subprocess`):
    /// Foundation's `Process` waits for its children on one monitoring thread for the whole
    /// process, which another long-lived child had blocked.
    static func runPlugin(_ exec: KubeConfig.ExecConfig) async throws -> ExecToken {
        let arguments = exec.command.contains("/") ? [exec.command] + exec.args : ["/usr/bin/env", exec.command] + exec.args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in exec.env { environment[k] = v }
        environment["KUBERNETES_EXEC_INFO"] = #"{"apiVersion":"\#(exec.apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
        let result = try await Subprocess.run(arguments, environment: environment, limits: .init(timeout: pluginTimeout, maxStdout: 1 << 20, stderrTail: 300))
        switch result.outcome {
        case .exited(0):
            break
        case .exited(let status):
            throw KubeError.transport("exec credential plugin \(exec.command) exited with status \(status): \(result.stderrTail)")
        case .signalled(let signal):
            throw KubeError.transport("exec credential plugin \(exec.command) was killed by signal \(signal): \(result.stderrTail)")
        case .timedOut:
            throw KubeError.transport("exec credential plugin \(exec.command) did not finish within \(pluginTimeout)")
        case .outputTooLarge:
            throw KubeError.transport("exec credential plugin \(exec.command) printed more than 1 MiB")
        }
        guard let credential = try? JSONValue.parse(result.stdout), let token = credential["status"]?["token"]?.stringValue, !token.isEmpty else {
            throw KubeError.transport("exec credential plugin \(exec.command) printed no ExecCredential with status.token")
        }
        let expires = credential["status"]?["expirationTimestamp"]?.stringValue.flatMap(parseRFC3339)
        return ExecToken(token: token, expires: expires)
    }

    static func parseRFC3339(_ s: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: s) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)
    }
}
