import CLibGit2
import Foundation

/// A working copy on disk read as a revision (for `flotilla build --dir` and `flotilla diff
/// --dir`): every regular file under the root but `.git`, with its git blob id; symbolic links
/// are left out, as in a tree read from git. The revision argument is ignored.
public struct DirectoryTree: TreeReader {
    public let root: String

    public init(root: String) {
        self.root = (root as NSString).standardizingPath
    }

    public func files(at revision: String, paths: [String]) async throws(GitError) -> [GitFile] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw GitError(.notFound, "\(root) is not a directory")
        }
        for path in paths where !path.isEmpty {
            guard FileManager.default.fileExists(atPath: root + "/" + path) else {
                throw GitError(.notFound, "path \(path) does not exist in \(root)")
            }
        }
        var out: [GitFile] = []
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let relative = enumerator?.nextObject() as? String {
            if relative == ".git" || relative.hasPrefix(".git/") {
                enumerator?.skipDescendants()
                continue
            }
            let full = root + "/" + relative
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: full),
                  attributes[.type] as? FileAttributeType == .typeRegular else { continue }
            if !paths.isEmpty && !paths.contains(where: { $0.isEmpty || $0 == "." || relative == $0 || relative.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) { continue }
            guard let data = FileManager.default.contents(atPath: full) else { continue }
            let executable = ((attributes[.posixPermissions] as? Int) ?? 0) & 0o111 != 0
            out.append(GitFile(path: relative, blobID: Self.blobID(data) + ":" + relative, executable: executable))
        }
        return out.sorted { $0.path < $1.path }
    }

    public func blobs(_ ids: [String], maxSize: Int) async throws(GitError) -> (contents: [String: [UInt8]], oversized: [String: Int]) {
        var contents: [String: [UInt8]] = [:], oversized: [String: Int] = [:]
        for id in ids {
            guard let colon = id.firstIndex(of: ":") else { continue }
            let path = root + "/" + id[id.index(after: colon)...]
            guard let data = FileManager.default.contents(atPath: path) else {
                throw GitError(.notFound, "cannot read \(path)")
            }
            if data.count > maxSize { oversized[id] = data.count } else { contents[id] = Array(data) }
        }
        return (contents, oversized)
    }

    /// The id git gives these bytes as a blob.
    static func blobID(_ data: Data) -> String {
        var oid = git_oid()
        _ = data.withUnsafeBytes { git_odb_hash(&oid, $0.baseAddress, data.count, GIT_OBJECT_BLOB) }
        return oid.hex
    }
}
