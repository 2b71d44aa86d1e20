import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import NIOSSL
import Synchronization

/// Polls of smart HTTP remotes (`SmartHTTPRemote`) over kept-alive connections: AsyncHTTPClient
/// on NIO's shared event loops, so a poll takes no git thread and reuses its connection (and TLS
/// session) where libgit2 1.5 connects and shakes hands for every poll, and waits on its socket
/// (`SocketStream`) where this waits on nothing. Here the whole exchange, body included, has the
/// mirror's timeout.
///
/// Only a complete answer is taken: a refusal (401, 404), a redirect, a dumb server or a failed
/// connection falls back to libgit2 for that poll, so its errors (and the redirects it follows)
/// stay what they were. A timeout does not fall back. Connections are shared by every mirror of
/// a host: each request carries its own credentials, and nothing else (cookies, client
/// certificates) is kept between requests.
public final class SmartHTTPPolls: Sendable {
    public static let shared = SmartHTTPPolls()

    let client: HTTPClient
    private let answeredCount = Atomic<Int>(0)
    private let fellBackCount = Atomic<Int>(0)

    /// Polls answered over a kept connection.
    public var answered: Int { answeredCount.load(ordering: .relaxed) }
    /// Polls left to libgit2 (a refusal, a redirect, a dumb server, a failed connection).
    public var fellBack: Int { fellBackCount.load(ordering: .relaxed) }

    /// `idleTimeout`: how long an unused connection is kept (longer than the usual poll interval).
    /// `certificateAuthorities`: a PEM file to trust instead of the system's (benches and tests).
    public init(idleTimeout: Duration = .seconds(600), certificateAuthorities: String? = nil) {
        var configuration = HTTPClient.Configuration()
        if let certificateAuthorities {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(certificateAuthorities)
            configuration.tlsConfiguration = tls
        }
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        configuration.connectionPool = .init(idleTimeout: .seconds(max(1, idleTimeout.components.seconds)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit { client.shutdown { _ in } }

    /// The remote's heads, or nil when this poll is libgit2's to make.
    func listRemote(_ remote: SmartHTTPRemote, timeout: Duration, prefix: String) async throws(GitError) -> RemoteHeads? {
        let body: [UInt8]?
        do {
            body = try await advertisement(remote, timeout: timeout)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw GitError(.timeout, "\(prefix) timed out after \(timeout)")
        } catch is ResponseAccumulator.ResponseTooBigError {
            throw GitError(.invalid, "\(prefix): the ref advertisement is larger than \(RefAdvertisement.maxTotal >> 20) MiB")
        } catch {
            if Task.isCancelled { throw GitError(.cancelled, "\(prefix) cancelled") }
            body = nil
        }
        guard let body else {
            fellBackCount.add(1, ordering: .relaxed)
            return nil
        }
        do {
            let heads = try SmartHTTPRemote.heads(body)
            answeredCount.add(1, ordering: .relaxed)
            return heads
        } catch {
            throw GitError(error.kind, "\(prefix): \(error.message)")
        }
    }

    /// The discovery body of a 200 with git's content type; nil for any other answer. The whole
    /// response is gathered on the event loop (one hop back to the caller, not one per chunk), and
    /// the deadline covers it all, body included.
    private func advertisement(_ remote: SmartHTTPRemote, timeout: Duration) async throws -> [UInt8]? {
        var headers = HTTPHeaders()
        headers.add(name: "User-Agent", value: SmartHTTPRemote.userAgent)
        headers.add(name: "Accept", value: "*/*")
        headers.add(name: "Pragma", value: "no-cache")
        if let authorization = remote.authorization { headers.add(name: "Authorization", value: authorization) }
        let request = try HTTPClient.Request(url: remote.infoRefs, method: .GET, headers: headers)
        let accumulator = ResponseAccumulator(request: request, maxBodySize: RefAdvertisement.maxTotal + 4096)
        let nanoseconds = Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        let task = client.execute(request: request, delegate: accumulator, deadline: .now() + .nanoseconds(nanoseconds))
        let response = try await withTaskCancellationHandler {
            try await task.futureResult.get()
        } onCancel: {
            task.cancel()
        }
        let type = response.headers.first(name: "Content-Type")?.lowercased() ?? ""
        guard response.status == .ok, type.hasPrefix(SmartHTTPRemote.contentType) else { return nil }
        return response.body.map { Array(buffer: $0) } ?? []
    }
}
