import Foundation

/// What a test can see of the connections a `TestSSHD` serves: sshd forks one process per
/// accepted connection (which forks the session's own), so its direct children are its open
/// connections.
extension TestSSHD {
    /// Connections sshd holds open now (authenticated or not).
    public var openConnections: Int { Self.children(of: process.processIdentifier).count }

    /// Every process serving a connection: sshd's children and theirs.
    public func sessionProcesses() -> [pid_t] {
        var found: [pid_t] = []
        var next = [process.processIdentifier]
        while let pid = next.popLast() {
            let children = Self.children(of: pid)
            found += children
            next += children
        }
        return found
    }

    /// Sends `signal` to every process serving a connection (SIGSTOP: a peer that stops answering
    /// without closing anything; SIGKILL: one that is gone).
    public func signalSessions(_ signal: Int32) {
        for pid in sessionProcesses() { kill(pid, signal) }
    }

    static func children(of parent: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { name -> pid_t? in
            guard let pid = pid_t(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8) else { return nil }
            // "pid (comm) state ppid …": the command may hold spaces, so read after its last ")".
            guard let close = stat.lastIndex(of: ")") else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == parent ? pid : nil
        }
    }
}
