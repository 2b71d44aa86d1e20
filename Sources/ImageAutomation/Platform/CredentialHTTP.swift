import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The requests of the platform credential flows (metadata servers, STS, ECR, Entra ID, ACR):
/// short deadlines, small bodies, and every failure a `credentialsUnavailable` error that says
/// which step failed and never a token.
struct CredentialHTTP: Sendable {
    let client: HTTPClient
    var timeout: Duration = .seconds(5)

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    static func failure(_ message: String) -> RegistryError {
        RegistryError(kind: .credentialsUnavailable, message: message)
    }

    /// One request; a transport failure or a deadline is an error naming `what`.
    func send(_ method: HTTPMethod, _ url: String, headers: [String: String] = [:], body: [UInt8]? = nil, what: String) async throws(RegistryError) -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "flotilla")
        for (name, value) in headers { request.headers.replaceOrAdd(name: name, value: value) }
        if let body { request.body = .bytes(body) }
        do {
            let response = try await client.execute(request, timeout: TimeAmount(timeout))
            let body = try await response.body.collect(upTo: 1024 * 1024)
            return Response(status: Int(response.status.code), headers: response.headers, body: Array(buffer: body))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw Self.failure("\(what): \(Self.redacted(url)) did not answer within \(timeout)")
        } catch {
            throw Self.failure("\(what): cannot reach \(Self.redacted(url)): \(error)")
        }
    }

    /// A JSON object from a 2xx answer, else an error with the status (and the provider's own
    /// error text when it gives one, which never holds a secret).
    func json(_ response: Response, what: String) throws(RegistryError) -> [String: Any] {
        guard (200..<300).contains(response.status) else {
            var detail = ""
            if let o = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] {
                detail = [o["__type"], o["error"], o["error_description"], o["message"]].compactMap { $0 as? String }.joined(separator: ": ")
            } else if let code = AWSCredentialChain.element("Code", in: response.text) {
                detail = [code, AWSCredentialChain.element("Message", in: response.text)].compactMap { $0 }.joined(separator: ": ")
            }
            throw Self.failure("\(what): HTTP \(response.status)\(detail.isEmpty ? "" : " (\(detail.prefix(200)))")")
        }
        guard let o = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw Self.failure("\(what): the answer is not a JSON object")
        }
        return o
    }

    static func redacted(_ url: String) -> String {
        url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    }

    static func form(_ fields: [(String, String)]) -> [UInt8] {
        Array(fields.map { "\($0.0)=\(formEncode($0.1))" }.joined(separator: "&").utf8)
    }

    static func formEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
