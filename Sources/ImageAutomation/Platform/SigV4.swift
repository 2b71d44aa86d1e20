import Crypto
import Foundation

/// AWS Signature Version 4 for one request (no maintained Swift library for it builds here: Soto
/// is not in the package mirror). Tested against AWS's documented examples (SigV4Tests).
struct SigV4 {
    var accessKeyID: String
    var secretAccessKey: String
    var sessionToken: String?
    var region: String
    var service: String

    static func amzDate(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.string(from: date)
    }

    /// The headers to add to the request (`x-amz-date`, `x-amz-security-token` with a session
    /// token, `authorization`); `headers` must include `host` and be every header sent.
    func sign(method: String, url: URL, headers: [String: String], body: [UInt8], date: Date) -> [String: String] {
        let amzDate = Self.amzDate(date)
        var all = headers
        all["x-amz-date"] = amzDate
        if let sessionToken { all["x-amz-security-token"] = sessionToken }
        let canonical = Dictionary(all.map { ($0.key.lowercased(), Self.trim($0.value)) }, uniquingKeysWith: { a, b in a + "," + b })
        let names = canonical.keys.sorted()
        let signedHeaders = names.joined(separator: ";")
        let request = [
            method,
            Self.canonicalPath(url.path),
            Self.canonicalQuery(url.query),
            names.map { "\($0):\(canonical[$0]!)\n" }.joined(),
            signedHeaders,
            Self.hex(SHA256.hash(data: body)),
        ].joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let toSign = ["AWS4-HMAC-SHA256", amzDate, scope, Self.hex(SHA256.hash(data: Array(request.utf8)))].joined(separator: "\n")
        var key = SymmetricKey(data: Array("AWS4\(secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Array(toSign.utf8), using: key))
        var added = ["x-amz-date": amzDate,
                     "authorization": "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"]
        if let sessionToken { added["x-amz-security-token"] = sessionToken }
        return added
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func trim(_ value: String) -> String {
        value.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }

    /// RFC 3986 unreserved characters stay; everything else is percent-encoded.
    static func encode(_ s: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in s.utf8 {
            let c = Character(UnicodeScalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-_.~".contains(c)) || (keepSlash && c == "/") {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    static func canonicalPath(_ path: String) -> String {
        path.isEmpty ? "/" : encode(path, keepSlash: true)
    }

    static func canonicalQuery(_ query: String?) -> String {
        guard let query, !query.isEmpty else { return "" }
        var pairs: [(key: String, value: String)] = []
        for pair in query.split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
            let value = kv.count > 1 ? kv[1] : ""
            pairs.append((encode(kv[0], keepSlash: false), encode(value, keepSlash: false)))
        }
        pairs.sort { $0.key != $1.key ? $0.key < $1.key : $0.value < $1.value }
        return pairs.map { $0.key + "=" + $0.value }.joined(separator: "&")
    }
}
