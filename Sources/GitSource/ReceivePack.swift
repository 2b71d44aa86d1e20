/// One ref update pushed with git's smart protocol v0 to `git-receive-pack`, as pack-protocol.txt
/// describes it, after the server's ref advertisement (`RefAdvertisement`): the command
/// `<old> <new> <ref>\0report-status`, a flush, the pack, then the server's report, pkt-lines of
/// `unpack ok` (or `unpack <error>`) and `ok <ref>` (or `ng <ref> <reason>`) ending with a flush.
///
/// A value type: it makes the bytes to send and reads the report fed to it; no I/O.
struct ReceivePack {
    static let zeroID = String(repeating: "0", count: 40)

    /// What to send after the advertisement: nothing when the ref is already at `new` (then a
    /// flush alone, which ends receive-pack cleanly), else the command, a flush and the pack.
    /// Throws when the server cannot report the outcome (no `report-status`).
    static func request(ref: String, new: String, advertised: RemoteHeads, capabilities: Set<String>, pack: [UInt8]) throws(GitError) -> (bytes: [UInt8], updates: Bool) {
        let old = advertised.refs[ref] ?? zeroID
        if old == new { return (Array("0000".utf8), false) }
        guard capabilities.contains("report-status") else {
            throw GitError(.other, "the server's git-receive-pack does not offer report-status")
        }
        var bytes = pktLine("\(old) \(new) \(ref)\0report-status agent=flotilla\n")
        bytes += Array("0000".utf8)
        bytes += pack
        return (bytes, true)
    }

    static func pktLine(_ payload: String) -> [UInt8] {
        let digits = String(payload.utf8.count + 4, radix: 16)
        return Array((String(repeating: "0", count: 4 - digits.count) + digits + payload).utf8)
    }

    /// What the server's report says of the ref.
    enum Outcome: Equatable {
        case updated
        case refused(String)
    }

    /// The server's report, fed as it arrives.
    struct Report {
        private var pending: [UInt8] = []
        /// Bytes taken so far: a report longer than any real one is refused (a hostile server
        /// cannot make a push hold unbounded memory in `refs`).
        private var total = 0
        private var unpack: String?
        private var refs: [String: String?] = [:]

        /// nil while more is needed; the outcome for `ref` once the flush came. Malformed input
        /// throws.
        mutating func consume(_ bytes: some Collection<UInt8>, ref: String) throws(GitError) -> Outcome? {
            total += bytes.count
            guard total <= 1 << 20 else { throw GitError(.other, "the push report is larger than 1 MiB") }
            pending.append(contentsOf: bytes)
            while pending.count >= 4 {
                guard let length = Int(String(decoding: pending[0..<4], as: UTF8.self), radix: 16) else {
                    throw GitError(.other, "the push report has a bad pkt-line length")
                }
                if length == 0 {
                    pending.removeFirst(4)
                    return outcome(ref)
                }
                guard length >= 4 else { throw GitError(.other, "the push report has a bad pkt-line length") }
                guard pending.count >= length else { return nil }
                var line = String(decoding: pending[4..<length], as: UTF8.self)
                pending.removeFirst(length)
                if line.hasSuffix("\n") { line.removeLast() }
                if line.hasPrefix("unpack ") {
                    unpack = String(line.dropFirst("unpack ".count))
                } else if line.hasPrefix("ok ") {
                    refs[String(line.dropFirst(3))] = .some(nil)
                } else if line.hasPrefix("ng ") {
                    let rest = line.dropFirst(3)
                    let name = rest.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
                    let reason = rest.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? "refused"
                    refs[name] = .some(reason)
                } else {
                    throw GitError(.other, "the push report has an unexpected line: \(RefAdvertisement.printable(Array(line.utf8), limit: 200))")
                }
            }
            return nil
        }

        private func outcome(_ ref: String) -> Outcome {
            if let unpack, unpack != "ok" { return .refused("the server could not unpack: \(RefAdvertisement.printable(Array(unpack.utf8), limit: 200))") }
            guard let entry = refs[ref] else { return .refused("the server did not report on \(ref)") }
            return entry.map { .refused(RefAdvertisement.printable(Array($0.utf8), limit: 200)) } ?? .updated
        }
    }
}
