import Foundation

/// A checkout as bytes, to hand to the generator container and back: regular files only, each with
/// its path and executable bit. Symbolic links are never packed (git's are not checked out, and a
/// link a command made could point at the operator's files), and unpacking refuses any path that
/// is absolute or climbs with `..`, so an archive can only ever write inside its own directory.
public enum TreeArchive {
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// The largest archive either side accepts.
    public static let maxBytes = 1 << 30

    /// Packs every regular file under `root`, sorted by path.
    public static func pack(_ root: String) throws -> [UInt8] {
        var out: [UInt8] = []
        for relative in try files(under: root) {
            let full = root + "/" + relative
            var info = stat()
            guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            guard let data = FileManager.default.contents(atPath: full) else { throw Invalid(description: "cannot read \(relative)") }
            let path = Array(relative.utf8)
            out.append(info.st_mode & 0o100 != 0 ? 1 : 0)
            appendLength(path.count, to: &out)
            out += path
            appendLength(data.count, to: &out)
            out += data
            guard out.count <= maxBytes else { throw Invalid(description: "the checkout is larger than \(maxBytes) bytes") }
        }
        return out
    }

    /// Regular files under `root`, relative, sorted; symbolic links are neither followed nor listed.
    static func files(under root: String) throws -> [String] {
        var out: [String] = []
        var pending = [""]
        let fm = FileManager.default
        while let dir = pending.popLast() {
            for name in try fm.contentsOfDirectory(atPath: dir.isEmpty ? root : root + "/" + dir) {
                let relative = dir.isEmpty ? name : dir + "/" + name
                var info = stat()
                guard lstat(root + "/" + relative, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: pending.append(relative)
                case S_IFREG: out.append(relative)
                default: continue
                }
            }
        }
        return out.sorted()
    }

    /// Unpacks `bytes` into `root` (which should be empty), creating directories as needed.
    public static func unpack(_ bytes: [UInt8], into root: String) throws {
        var reader = ByteReader(bytes)
        let fm = FileManager.default
        while !reader.atEnd {
            let executable = try reader.byte()
            let path = String(decoding: try reader.bytes(try reader.length()), as: UTF8.self)
            let contents = try reader.bytes(try reader.length())
            try validate(path)
            let full = root + "/" + path
            if let slash = full.lastIndex(of: "/") {
                try fm.createDirectory(atPath: String(full[..<slash]), withIntermediateDirectories: true)
            }
            guard fm.createFile(atPath: full, contents: Data(contents), attributes: [.posixPermissions: executable == 1 ? 0o755 : 0o644]) else {
                throw Invalid(description: "cannot write \(path)")
            }
        }
    }

    /// A relative path of plain components: no absolute path, no `.` or `..`, no empty component.
    static func validate(_ path: String) throws {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.contains("\0"), !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else {
            throw Invalid(description: "refused path \"\(path)\" in a checkout archive")
        }
    }

    static func appendLength(_ n: Int, to out: inout [UInt8]) {
        let v = UInt64(n)
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(truncatingIfNeeded: v >> UInt64(shift))) }
    }
}

/// Reads length-prefixed fields from a byte array.
struct ByteReader {
    let bytes: [UInt8]
    var offset = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { offset >= bytes.count }

    mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw TreeArchive.Invalid(description: "a checkout archive ends early") }
        offset += 1
        return bytes[offset - 1]
    }

    mutating func length() throws -> Int {
        var v: UInt64 = 0
        for _ in 0..<8 { v = v << 8 | UInt64(try byte()) }
        guard v <= UInt64(TreeArchive.maxBytes) else { throw TreeArchive.Invalid(description: "a field of \(v) bytes in a checkout archive") }
        return Int(v)
    }

    mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard bytes.count - offset >= n else { throw TreeArchive.Invalid(description: "a checkout archive ends early") }
        offset += n
        return Array(bytes[(offset - n)..<offset])
    }
}
