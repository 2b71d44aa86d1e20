import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTLS
import KubeModel
import Logging
import NIOCore
import NIOSSL

/// Serves a `KubeAPIServer` over HTTPS on 127.0.0.1 with Hummingbird, and writes kubeconfigs for it.
/// HTTP/1.1 only: kube-apiserver also offers HTTP/2, but swift-nio-http2's async stream multiplexer
/// traps ("Deinited NIOAsyncWriter without calling finish()") when a client opens a stream while
/// the server shuts down, which tests do all the time.
public struct EmulatorHTTPServer: Sendable {
    public let api: KubeAPIServer
    public let tls: TLSMaterial
    public let host: String
    public let port: Int
    let logger: Logger

    /// Largest request body accepted (kube-apiserver's limit is 3 MiB).
    static let maxBody = 3 * 1024 * 1024

    public init(api: KubeAPIServer, tls: TLSMaterial, host: String = "127.0.0.1", port: Int, logger: Logger) {
        self.api = api
        self.tls = tls
        self.host = host
        self.port = port
        self.logger = logger
    }

    /// Runs until cancelled; `onListening` receives the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        var tlsConfiguration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(tls.serverCertificatePEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(tls.serverKeyPEM.utf8), format: .pem)))
        // Client certificates are optional; when presented they must chain to our CA.
        tlsConfiguration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(tls.caCertificatePEM.utf8)))
        tlsConfiguration.certificateVerification = .optionalVerification
        tlsConfiguration.applicationProtocols = ["http/1.1"]
        let responder = EmulatorResponder(api: api)
        let app = Application(
            responder: responder,
            server: try .tls(.http1(configuration: .init(additionalChannelHandlers: [InputClosedObserver()], idleTimeout: nil)),
                             tlsConfiguration: tlsConfiguration),
            configuration: .init(address: .hostname(host, port: port), serverName: "flotilla-kube-emulator"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await api.runControllers() }
            group.addTask { try await app.run() }
            // Either task ending (normally on cancellation) ends both.
            try await group.next()
            group.cancelAll()
        }
    }
}

/// The request context: Hummingbird's core context plus the connection, for the TLS peer certificate.
struct EmulatorRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

struct EmulatorResponder: HTTPResponder {
    typealias Context = EmulatorRequestContext
    let api: KubeAPIServer

    func respond(to request: Request, context: EmulatorRequestContext) async throws -> Response {
        var headers: [String: [String]] = [:]
        for field in request.headers { headers[field.name.canonicalName.lowercased(), default: []].append(field.value) }
        let body = try await request.body.collect(upTo: EmulatorHTTPServer.maxBody)
        var apiRequest = APIRequest(method: request.method.rawValue, path: request.uri.path,
                                    query: APIRequest.parseQuery(request.uri.query ?? ""), headers: headers,
                                    body: Array(buffer: body))
        if headers["authorization"] == nil, let certificate = try? await context.channel.nioSSL_peerCertificate().get(),
           let der = try? certificate.toDERBytes() {
            apiRequest.clientCertificateIdentity = TLSMaterial.identity(fromDER: der)
        }
        let response = await api.handle(apiRequest)
        var fields = HTTPFields()
        for (name, value) in response.headers {
            if let n = HTTPField.Name(name) { fields.append(HTTPField(name: n, value: value)) }
        }
        let status = HTTPResponse.Status(code: response.status)
        if let stream = response.stream {
            fields[.cacheControl] = "no-cache, private"
            // A client that goes away ends its watch at once (not at the next event).
            if let cancel = response.cancel {
                context.channel.closeFuture.whenComplete { _ in cancel() }
                if let observer = try? await context.channel.pipeline.handler(type: InputClosedObserver.self).get() {
                    observer.onInputClosed(cancel, eventLoop: context.channel.eventLoop)
                }
            }
            return Response(status: status, headers: fields, body: ResponseBody { writer in
                for await chunk in stream {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            })
        }
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: response.body)))
    }
}

/// Kubeconfig files for an emulator: one cluster, a user and a context per static user.
public enum Kubeconfig {
    public static func yaml(server: String, caPEM: String, users: [StaticUser], currentUser: String = "admin", clusterName: String = "flotilla-dev") -> String {
        let ca = Data(caPEM.utf8).base64EncodedString()
        var out = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: \(clusterName)
          cluster:
            server: \(server)
            certificate-authority-data: \(ca)
        users:

        """
        for u in users {
            out += "- name: \(u.name)\n  user:\n    token: \(u.token)\n"
        }
        out += "contexts:\n"
        for u in users {
            let name = u.name == currentUser ? clusterName : u.name
            out += "- name: \(name)\n  context:\n    cluster: \(clusterName)\n    user: \(u.name)\n    namespace: default\n"
        }
        out += "current-context: \(clusterName)\n"
        return out
    }
}

/// Notices when a client closes its side of the connection. Hummingbird allows half-closed
/// connections, so a client that hangs up during a watch would otherwise only be noticed at the next
/// event; kube-apiserver ends the watch at once.
final class InputClosedObserver: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // Safe: every stored property is touched only on the channel's event loop (handlers run there,
    // and `onInputClosed` hops onto it before touching state).
    typealias InboundIn = NIOAny
    private var closed = false
    private var callbacks: [@Sendable () -> Void] = []

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let e = event as? ChannelEvent, e == .inputClosed {
            closed = true
            let pending = callbacks
            callbacks.removeAll()
            for c in pending { c() }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func onInputClosed(_ callback: @escaping @Sendable () -> Void, eventLoop: any EventLoop) {
        eventLoop.execute {
            if self.closed { callback() } else { self.callbacks.append(callback) }
        }
    }
}
