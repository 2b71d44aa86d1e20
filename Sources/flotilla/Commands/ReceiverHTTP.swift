import Hummingbird
import Logging
import NIOCore
import Operator
import ServiceLifecycle

/// The push webhook endpoint, on a port of its own (`--receiver-address`): `POST
/// /hooks/<namespace>/<secret>`. Bodies over 1 MiB are refused before anything is verified;
/// everything else is the supervisor's (`Supervisor.receive`).
struct ReceiverHTTP: Service {
    let host: String
    let port: Int
    let supervisor: Supervisor
    let logger: Logger
    static let maxBody = 1 << 20

    func run() async throws {
        let router = Router()
        router.post("hooks/:namespace/:name") { [supervisor] request, context -> Response in
            let namespace = context.parameters.get("namespace") ?? "", name = context.parameters.get("name") ?? ""
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: Self.maxBody) } catch {
                return Self.answer(413, "the body is larger than \(Self.maxBody) bytes")
            }
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            var query: [String: String] = [:]
            for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
            let answer = await supervisor.receive(namespace: namespace, receiver: name,
                                                  delivery: WebhookDelivery(headers: headers, body: Array(buffer: body), query: query))
            return Self.answer(answer.status, answer.message)
        }
        try await OperatorHTTP.serve(router, host: host, port: port, logger: logger, announce: "serving push webhooks on /hooks")
    }

    static func answer(_ status: Int, _ message: String) -> Response {
        Response(status: .init(code: status), headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: message + "\n")))
    }
}
