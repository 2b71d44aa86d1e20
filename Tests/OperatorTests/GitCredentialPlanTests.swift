@testable import Operator
import Testing

/// Where git credentials come from, from the remote's scheme and the Secret's keys alone.
@Suite("Git credential plan")
struct GitCredentialPlanTests {
    let hosts = "[127.0.0.1]:2222 ssh-ed25519 AAAA\n"

    func plan(ssh: Bool, _ secret: [String: String]?, store: GitCredentialPlan.KeyStore = .managed) throws -> GitCredentialPlan {
        try GitCredentialPlan.plan(ssh: ssh, secret: secret, store: store, secretName: "team-a/git")
    }

    @Test("no Secret: an SSH remote gets the managed generated key, any other remote goes anonymous")
    func noSecret() throws {
        #expect(try plan(ssh: true, nil) == .generated(store: .managed, knownHosts: nil))
        #expect(try plan(ssh: false, nil) == .anonymous(knownHosts: ""))
    }

    @Test("a Secret's own identity or username/password wins, with its known_hosts")
    func ownCredentials() throws {
        #expect(try plan(ssh: true, ["identity": "k", "known_hosts": hosts]) == .secretKey(knownHosts: hosts))
        #expect(try plan(ssh: true, ["identity": "k"], store: .secretRef) == .secretKey(knownHosts: ""), "a key already there is used, never replaced")
        #expect(try plan(ssh: false, ["username": "u", "password": "p"]) == .password(knownHosts: ""))
        #expect(try plan(ssh: false, ["username": "u"]) == .anonymous(knownHosts: ""), "a username alone is not a credential")
    }

    @Test("known_hosts alone for an SSH remote: a generated key, kept where generatedKey says, with the user's known_hosts")
    func knownHostsOnly() throws {
        #expect(try plan(ssh: true, ["known_hosts": hosts]) == .generated(store: .managed, knownHosts: hosts))
        #expect(try plan(ssh: true, ["known_hosts": hosts], store: .secretRef) == .generated(store: .secretRef, knownHosts: hosts))
        #expect(try plan(ssh: false, ["known_hosts": hosts]) == .anonymous(knownHosts: hosts))
    }

    @Test("a Secret with nothing usable for an SSH remote is an error naming the Secret and what to put there")
    func nothingUsable() {
        #expect(throws: InvalidSpec.self) { try plan(ssh: true, ["token": "x"]) }
        let error = #expect(throws: InvalidSpec.self) { try plan(ssh: true, [:]) }
        #expect(error?.message.contains("team-a/git") == true && error?.message.contains("known_hosts") == true)
    }
}
