import Foundation

/// git's smart HTTP (`git http-backend`) behind basic auth, on 127.0.0.1 (hack/testing/git-http-server.py).
public final class SmartHTTPServer {
    let process = Process()
    public let port: Int

    let scheme: String
    let host: String

    /// With `tls` (a certificate for `localhost` and its key, PEM files), over https.
    public init(projectRoot: String, user: String, password: String, tls: (certificate: String, key: String)? = nil) throws {
        let script = LocalRegistry.hackPath("git-http-server.py")
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script, projectRoot, user, password] + (tls.map { [$0.certificate, $0.key] } ?? [])
        (scheme, host) = tls == nil ? ("http", "127.0.0.1") : ("https", "localhost")
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw FixtureError("the smart HTTP server did not start")
        }
        port = p
    }

    public func url(_ repo: String, userinfo: String = "") -> String { "\(scheme)://\(userinfo)\(host):\(port)/\(repo)" }

    public func stop() { kill(process.processIdentifier, SIGKILL) }
}


/// A certificate authority and a certificate it signed for `localhost` (openssl), PEM files in
/// `directory`: what an https test server and its clients need.
public func localhostCertificate(in directory: String) throws -> (ca: String, certificate: String, key: String) {
    let (ca, caKey, cert, key) = (directory + "/ca.pem", directory + "/ca-key.pem", directory + "/localhost.pem", directory + "/localhost-key.pem")
    try sh(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=flotilla test CA", "-keyout", caKey, "-out", ca])
    try sh(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", "/CN=localhost",
            "-keyout", key, "-out", directory + "/localhost.csr"])
    try "subjectAltName=DNS:localhost\n".write(toFile: directory + "/san.ext", atomically: true, encoding: .utf8)
    try sh(["openssl", "x509", "-req", "-in", directory + "/localhost.csr", "-CA", ca, "-CAkey", caKey, "-CAcreateserial",
            "-days", "1", "-extfile", directory + "/san.ext", "-out", cert])
    return (ca, cert, key)
}
