#if canImport(Glibc)
import Glibc
#endif

/// A push of one ref to a `git://` remote on the calling git thread, without libgit2: connect,
/// ask for `git-receive-pack`, read its ref advertisement, send the update and a pack the caller
/// made (`ReceivePack`), read the report, close. Every wait has the deadline of `GitDaemonPoll`'s,
/// so a silent server frees the thread within a slice of the timeout, where libgit2 1.5 (no socket
/// timeout) held it until the server hung up. Used for the sync tag: one object, pushed after
/// every sync that moved it.
enum GitDaemonPush {
    /// Pushes `new` to `ref`. `pack` holds what the remote needs beyond what it has (the tag
    /// object: its commit is the branch head just fetched from it). Returns false when the ref
    /// was already at `new`.
    @discardableResult
    static func push(_ remote: GitDaemonRemote, ref: String, new: String, pack: [UInt8], prefix: String, timeout: Duration,
                     context: CallbackContext) throws(GitError) -> Bool {
        let deadline = PollDeadline(at: .now + timeout, timeout: timeout)
        let fd = try GitDaemonPoll.connect(remote, prefix: prefix, deadline: deadline, context: context)
        defer { close(fd) }
        try GitDaemonPoll.send(fd, remote.receivePackRequest, prefix: prefix, deadline: deadline, context: context)
        var advertisement = RefAdvertisement(keepingCapabilities: true)
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        let advertised = try GitDaemonPoll.readAdvertisement(fd, &advertisement, into: &buffer, refusal: "pushing is not enabled", prefix: prefix,
                                                             deadline: deadline, context: context)
        let request: (bytes: [UInt8], updates: Bool)
        do {
            request = try ReceivePack.request(ref: ref, new: new, advertised: advertised, capabilities: advertisement.capabilityWords, pack: pack)
        } catch {
            throw GitError(error.kind, "\(prefix): \(error.message)")
        }
        try GitDaemonPoll.send(fd, request.bytes, prefix: prefix, deadline: deadline, context: context)
        guard request.updates else { return false }
        var report = ReceivePack.Report()
        while true {
            let count = try GitDaemonPoll.receive(fd, into: &buffer, prefix: prefix, deadline: deadline, context: context)
            guard count > 0 else { throw GitError(.unreachable, "\(prefix): the connection closed before the server reported on \(ref)") }
            let outcome: ReceivePack.Outcome?
            do { outcome = try report.consume(buffer[0..<count], ref: ref) } catch { throw GitError(error.kind, "\(prefix): \(error.message)") }
            switch outcome {
            case nil: continue
            case .updated: return true
            case .refused(let why): throw GitError(.pushRejected, "\(prefix): \(ref) was refused: \(why)")
            }
        }
    }
}
