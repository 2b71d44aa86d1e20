import CLibGit2
import Foundation

/// Thin, synchronous wrappers over libgit2 objects, used only on a git thread (see `Blocking`).
/// Every pointer is freed by its owner's deinit.
final class Repository {
    let pointer: OpaquePointer

    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_repository_free(pointer) }

    /// Opens the bare mirror at `path`, creating it when missing.
    static func openOrCreate(_ path: String) throws(GitError) -> Repository {
        var repo: OpaquePointer?
        if FileManager.default.fileExists(atPath: path + "/HEAD") {
            try check(git_repository_open(&repo, path), "open mirror \(path)")
        } else {
            try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try check(git_repository_init(&repo, path, 1), "create mirror \(path)")
        }
        return Repository(repo!)
    }

    /// A repository that reads the objects of the mirror at `path` and keeps what is written in
    /// memory: a mempack backend takes the writes (an alternate is never written to). Nothing of
    /// the mirror is touched; what was written is gone with the repository.
    static func inMemory(over path: String) throws(GitError) -> Repository {
        var odb: OpaquePointer?
        try check(git_odb_new(&odb), "make an object database")
        defer { git_odb_free(odb) }  // the repository holds its own reference
        var backend: UnsafeMutablePointer<git_odb_backend>?
        try check(git_mempack_new(&backend), "make an in-memory object store")
        guard git_odb_add_backend(odb, backend, 1000) == 0, let backend else {
            backend?.pointee.free(backend)
            throw GitError(.other, "cannot add an in-memory object store")
        }
        try check(git_odb_add_disk_alternate(odb, path + "/objects"), "read the objects of \(path)")
        var repo: OpaquePointer?
        try check(git_repository_wrap_odb(&repo, odb), "open the objects of \(path)")
        return Repository(repo!)
    }

    /// The refspecs of a mirror: every branch and tag, as they are on the remote.
    static let mirrorRefspecs = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]

    /// An in-memory remote for `url` bound to this repository. Nothing is read from or written to
    /// the repository's config: libgit2 1.5 matches config keys with PCRE2 and leaks the match data
    /// of every non-matching key (libgit2#6382), about 200 KiB per fetch; fetches and pushes name
    /// their refspecs explicitly instead.
    func remote(url: String) throws(GitError) -> Remote {
        var opts = git_remote_create_options()
        git_remote_create_options_init(&opts, UInt32(GIT_REMOTE_CREATE_OPTIONS_VERSION))
        opts.repository = pointer
        opts.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF.rawValue | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC.rawValue
        var remote: OpaquePointer?
        try check(git_remote_create_with_opts(&remote, url, &opts), "open the remote", remote: url)
        return Remote(remote!)
    }

    func oid(_ spec: String) throws(GitError) -> git_oid {
        var object: OpaquePointer?
        try check(git_revparse_single(&object, pointer, spec), "resolve \(spec)")
        defer { git_object_free(object) }
        return git_object_id(object).pointee
    }

    func reference(_ name: String) -> git_oid? {
        var oid = git_oid()
        return git_reference_name_to_id(&oid, pointer, name) == 0 ? oid : nil
    }

    /// refs/heads/* → commit id.
    func branches() -> [String: String] {
        var out: [String: String] = [:]
        var iterator: OpaquePointer?
        guard git_reference_iterator_glob_new(&iterator, pointer, "refs/heads/*") == 0 else { return out }
        defer { git_reference_iterator_free(iterator) }
        var ref: OpaquePointer?
        while git_reference_next(&ref, iterator) == 0 {
            if let name = git_reference_name(ref).map({ String(cString: $0) }), let target = git_reference_target(ref) {
                out[String(name.dropFirst("refs/heads/".count))] = target.pointee.hex
            }
            git_reference_free(ref)
        }
        return out
    }

    func commitTree(_ commit: git_oid) throws(GitError) -> Tree {
        var c = commit
        var commitPointer: OpaquePointer?
        try check(git_commit_lookup(&commitPointer, pointer, &c), "look up commit \(commit.hex)")
        defer { git_commit_free(commitPointer) }
        var tree: OpaquePointer?
        try check(git_commit_tree(&tree, commitPointer), "read the tree of \(commit.hex)")
        return Tree(tree!)
    }

    func tree(_ id: git_oid) throws(GitError) -> Tree {
        var oid = id
        var tree: OpaquePointer?
        try check(git_tree_lookup(&tree, pointer, &oid), "read tree \(id.hex)")
        return Tree(tree!)
    }

    /// A blob's size from the object database's header, without reading its content.
    func blobSize(_ id: git_oid) throws(GitError) -> Int {
        var odb: OpaquePointer?
        try check(git_repository_odb(&odb, pointer), "open the object database")
        defer { git_odb_free(odb) }
        var oid = id
        var size = 0
        var type = GIT_OBJECT_ANY
        try check(git_odb_read_header(&size, &type, odb, &oid), "read the header of \(id.hex)")
        return size
    }

    func blob(_ id: git_oid) throws(GitError) -> [UInt8] {
        var oid = id
        var blob: OpaquePointer?
        try check(git_blob_lookup(&blob, pointer, &oid), "read blob \(id.hex)")
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let raw = git_blob_rawcontent(blob) else { return [] }
        return Array(UnsafeRawBufferPointer(start: raw, count: size))
    }
}

final class Remote {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_remote_free(pointer) }
}

final class Tree {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
    deinit { git_tree_free(pointer) }

    var id: git_oid { git_tree_id(pointer).pointee }

    struct Entry {
        var name: String
        var id: git_oid
        var type: git_object_t
        var mode: git_filemode_t
    }

    var entries: [Entry] {
        (0..<git_tree_entrycount(pointer)).compactMap { i in
            guard let e = git_tree_entry_byindex(pointer, i) else { return nil }
            return Entry(name: String(cString: git_tree_entry_name(e)), id: git_tree_entry_id(e).pointee,
                         type: git_tree_entry_type(e), mode: git_tree_entry_filemode(e))
        }
    }

    func entry(path: String) -> Entry? {
        var e: OpaquePointer?
        guard git_tree_entry_bypath(&e, pointer, path) == 0, let e else { return nil }
        defer { git_tree_entry_free(e) }
        return Entry(name: String(cString: git_tree_entry_name(e)), id: git_tree_entry_id(e).pointee,
                     type: git_tree_entry_type(e), mode: git_tree_entry_filemode(e))
    }
}

extension git_oid {
    var hex: String {
        var o = self
        var buffer = [CChar](repeating: 0, count: 41)
        git_oid_tostr(&buffer, 41, &o)
        return String(cString: buffer)
    }

    init?(hex: String) {
        var o = git_oid()
        guard hex.count == 40, git_oid_fromstr(&o, hex) == 0 else { return nil }
        self = o
    }
}

/// Calls `body` with a `git_strarray` of `strings`, valid only during the call.
func withStringArray<T>(_ strings: [String], _ body: (inout git_strarray) -> T) -> T {
    var cStrings = strings.map { strdup($0) }
    defer { cStrings.forEach { free($0) } }
    return cStrings.withUnsafeMutableBufferPointer { buffer in
        var array = git_strarray(strings: buffer.baseAddress, count: buffer.count)
        return body(&array)
    }
}
