import Foundation

/// git's smart protocol v0 ref advertisement, as `git-upload-pack` sends it before anything else:
/// pkt-lines (four hex digits of length, the length counting themselves; `0000` is a flush) of
/// `<oid> <refname>`, the first carrying `\0<capabilities>` (among them `symref=HEAD:refs/heads/main`),
/// ending with a flush. An empty repository advertises the pseudo-ref `capabilities^{}`; `ERR <text>`
/// is the server's error. Peeled tags (`refs/tags/v1^{}`) are kept as names, as libgit2's
/// `git_remote_ls` reports them, so both transports give the same `RemoteHeads`.
///
/// A value type fed the bytes as they arrive; no I/O.
struct RefAdvertisement {
    /// The largest pkt-line git sends (`LARGE_PACKET_MAX`).
    static let maxPacket = 65520
    /// How much of an advertisement is kept before it is refused (a hostile or broken server
    /// cannot make a poll hold unbounded memory): 64 MiB, more than any real repository's refs.
    static let maxTotal = 64 << 20

    private static let errPrefix = Array("ERR ".utf8)
    private static let versionLine = Array("version 1".utf8)
    private static let shallowPrefix = Array("shallow ".utf8)
    private static let symrefPrefix = Array("symref=".utf8)

    private var pending: [UInt8] = []
    private var total = 0
    private var refs: [String: String] = [:]
    private var symrefs: [String: String] = [:]
    private var sawRef = false
    private var sawVersion = false
    private(set) var heads: RemoteHeads?
    /// Whether the capabilities are kept (a push reads them; a poll never does).
    private let keepsCapabilities: Bool
    /// The capabilities on the first line (`report-status`, `symref=…`, …), when kept.
    private(set) var capabilityWords: Set<String> = []

    init(keepingCapabilities: Bool = false) { keepsCapabilities = keepingCapabilities }

    /// Whether any byte of the advertisement has arrived.
    var started: Bool { total > 0 }

    /// Takes the next bytes. Returns the heads once the flush packet ended the advertisement
    /// (bytes after it are ignored); nil while more is needed. Malformed input throws a
    /// `GitError` saying what was wrong.
    mutating func consume(_ bytes: some Collection<UInt8>) throws(GitError) -> RemoteHeads? {
        if let heads { return heads }
        total += bytes.count
        guard total <= Self.maxTotal else { throw Self.malformed("the ref advertisement is larger than \(Self.maxTotal >> 20) MiB") }
        pending.append(contentsOf: bytes)
        var start = 0
        defer { if start == pending.count { pending.removeAll(keepingCapacity: false) } else { pending.removeFirst(start) } }
        while pending.count - start >= 4 {
            guard let length = Self.hexLength(pending[start..<start + 4]) else {
                throw Self.malformed("bad pkt-line length \(Self.printable(pending[start..<start + 4]))")
            }
            if length == 0 {
                start += 4
                let done = finish()
                heads = done
                return done
            }
            guard length >= 4, length <= Self.maxPacket else { throw Self.malformed("bad pkt-line length \(length)") }
            guard pending.count - start >= length else { break }
            try line(pending[start + 4..<start + length])
            start += length
        }
        return nil
    }

    /// The heads in a complete advertisement; truncated input (no flush) is an error.
    static func parse(_ bytes: [UInt8]) throws(GitError) -> RemoteHeads {
        var advertisement = RefAdvertisement()
        guard let heads = try advertisement.consume(bytes) else {
            throw malformed("the ref advertisement ended early (\(bytes.count) bytes, no flush packet)")
        }
        return heads
    }

    private mutating func line(_ packet: ArraySlice<UInt8>) throws(GitError) {
        var payload = packet
        if payload.last == UInt8(ascii: "\n") { payload = payload.dropLast() }
        if payload.isEmpty { return }
        if payload.starts(with: Self.errPrefix) {
            throw GitError(.other, "remote error: \(Self.printable(payload.dropFirst(4)))")
        }
        if !sawRef && !sawVersion && payload.elementsEqual(Self.versionLine) {
            sawVersion = true
            return
        }
        if payload.starts(with: Self.shallowPrefix) { return }  // a shallow server's boundary, not a ref
        var text = payload
        if let nul = payload.firstIndex(of: 0) {
            guard !sawRef else { throw Self.malformed("capabilities after the first ref") }
            capabilities(payload[payload.index(after: nul)...])
            text = payload[..<nul]
        }
        guard let space = text.firstIndex(of: UInt8(ascii: " ")) else {
            throw Self.malformed("not a ref line: \(Self.printable(payload))")
        }
        let oid = String(decoding: text[..<space], as: UTF8.self)
        let name = String(decoding: text[text.index(after: space)...], as: UTF8.self)
        guard oid.utf8.count == 40 || oid.utf8.count == 64, oid.utf8.allSatisfy(Self.isHex), !name.isEmpty else {
            throw Self.malformed("not a ref line: \(Self.printable(payload))")
        }
        let first = !sawRef
        sawRef = true
        // An empty repository: only the capabilities, on a pseudo-ref with a zero id.
        if first && name == "capabilities^{}" && oid.utf8.allSatisfy({ $0 == UInt8(ascii: "0") }) { return }
        refs[name] = oid
    }

    private mutating func capabilities(_ text: ArraySlice<UInt8>) {
        if keepsCapabilities {
            capabilityWords = Set(text.split(separator: UInt8(ascii: " ")).map { String(decoding: $0, as: UTF8.self) })
        }
        for word in text.split(separator: UInt8(ascii: " ")) where word.starts(with: Self.symrefPrefix) {
            let value = String(decoding: word.dropFirst(Self.symrefPrefix.count), as: UTF8.self)
            guard let colon = value.firstIndex(of: ":") else { continue }
            symrefs[String(value[..<colon])] = String(value[value.index(after: colon)...])
        }
    }

    private func finish() -> RemoteHeads {
        // Like git_remote_ls: HEAD's target is known only when HEAD itself is advertised; the
        // branch name is the target without its first 11 characters ("refs/heads/").
        var defaultBranch: String?
        if refs["HEAD"] != nil, let target = symrefs["HEAD"] {
            defaultBranch = String(target.dropFirst("refs/heads/".count))
        }
        return RemoteHeads(refs: refs, defaultBranch: defaultBranch)
    }

    private static func hexLength(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for d in digits {
            guard let v = hexValue(d) else { return nil }
            value = value << 4 | v
        }
        return value
    }

    private static func hexValue(_ d: UInt8) -> Int? {
        switch d {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(d - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(d - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(d - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    private static func isHex(_ d: UInt8) -> Bool { hexValue(d) != nil }

    /// At most `limit` bytes of server text, control characters replaced: safe in a status.
    static func printable(_ bytes: some Collection<UInt8>, limit: Int = 200) -> String {
        let text = String(decoding: bytes.prefix(limit), as: UTF8.self)
        return String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
    }

    /// What a command wrote on stderr, as one printable line (its non-empty lines joined), at most
    /// 400 bytes: the server's words for an error (a missing repository, a refused command).
    static func serverWords(_ stderr: [UInt8]) -> String {
        let lines = String(decoding: stderr, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return printable(Array(lines.joined(separator: " ").utf8), limit: 400)
    }

    private static func malformed(_ detail: String) -> GitError {
        GitError(.other, "malformed ref advertisement from git-upload-pack: \(detail)")
    }
}
