import Foundation
import GitSource
import GitTesting

/// Polls of an `http://` remote served by `git http-backend` (behind basic auth, a Python server on
/// 127.0.0.1): over a kept connection (`SmartHTTPPolls`, what mirrors use) and through libgit2 (a
/// git thread and a new connection per poll), over http and over https (a local CA and a
/// certificate for `localhost`, which both clients are told to trust). CPU is this process's, all
/// threads; the server and the `git http-backend` it runs per request are not included.
extension GitBench {
    func httpBench(root: String) async throws {
        let pki = try localhostCertificate(in: root)
        try LibGit2.trustOnly(certificateAuthorities: pki.ca)
        for tls in [false, true] {
            try await httpBench(root: root, tls: tls ? (pki.certificate, pki.key) : nil, ca: pki.ca)
        }
    }

    func httpBench(root: String, tls: (certificate: String, key: String)?, ca: String) async throws {
        let server = try SmartHTTPServer(projectRoot: root, user: "bench", password: "bench-token", tls: tls)
        defer { server.stop() }
        print("| no-op poll (ls-remote), smart \(tls == nil ? "HTTP" : "HTTPS") on loopback (\(polls) polls) | p50 | p99 | CPU per poll |")
        print("|---|---:|---:|---:|")
        for direct in [true, false] {
            var options = GitMirror.Options(url: server.url("up.git"), directory: root + "/http-\(direct)-\(tls != nil)")
            options.credentials = .userPassword(username: "bench", password: "bench-token")
            options.httpPolls = direct ? SmartHTTPPolls(certificateAuthorities: ca) : nil
            print(try await pollRow(direct ? "SmartHTTPPolls (kept connection, deadlines)" : "libgit2", GitMirror(options)))
        }
        print("")
    }
}
