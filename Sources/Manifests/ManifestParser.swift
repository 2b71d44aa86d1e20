import KubeModel
import Synchronization

/// Turns YAML text into manifests: multi-document streams, `kind: List` (and `…List` kinds with
/// `items`) expanded, empty and comment-only documents skipped. Every error names the source and
/// the line.
public enum ManifestParser {
    /// The parsed documents of one file, before its path is known (what the cache keeps).
    public typealias Documents = [YAMLDocument]

    public static func documents(_ bytes: [UInt8]) throws(YAMLError) -> Documents {
        try bytes.withUnsafeBufferPointer { buffer in
            Result { () throws(YAMLError) in try YAML.documents(bytes: buffer) }
        }.get()
    }

    /// Manifests from parsed documents, validated; `source` names the file in errors.
    public static func manifests(_ documents: Documents, source: String) throws(RenderError) -> [Manifest] {
        do {
            return try objects(documents).map { Manifest(object: $0.object, source: source, line: $0.line) }
        } catch {
            throw RenderError(.parse, "\(source):\(error.line): \(error.reason)")
        }
    }

    public static func parse(_ bytes: [UInt8], source: String) throws(RenderError) -> [Manifest] {
        do {
            return try manifests(try documents(bytes), source: source)
        } catch let error as YAMLError {
            throw RenderError(.parse, "\(source):\(error.line): \(error.message)")
        } catch {
            throw error as! RenderError
        }
    }

    /// Why a document is not a manifest, before the file's name is known.
    struct DocumentError: Error {
        var line: Int
        var reason: String
    }

    /// The Kubernetes objects of parsed documents, `List`s expanded, each with its line.
    static func objects(_ documents: Documents) throws(DocumentError) -> [(object: JSONValue, line: Int)] {
        var out: [(object: JSONValue, line: Int)] = []
        for doc in documents {
            try collect(doc.value, line: doc.line, into: &out, inList: false)
        }
        return out
    }

    static func collect(_ value: JSONValue, line: Int, into out: inout [(object: JSONValue, line: Int)], inList: Bool) throws(DocumentError) {
        if value.isNull { return }
        guard value.objectValue != nil else {
            throw DocumentError(line: line, reason: "document is a \(value.typeName), not a Kubernetes object")
        }
        let kind = value["kind"]?.stringValue ?? ""
        if !inList, kind == "List" || kind.hasSuffix("List"), let items = value["items"]?.arrayValue {
            for item in items { try collect(item, line: line, into: &out, inList: true) }
            return
        }
        var missing: [String] = []
        if (value["apiVersion"]?.stringValue ?? "").isEmpty { missing.append("apiVersion") }
        if kind.isEmpty { missing.append("kind") }
        if (value["metadata"]?["name"]?.stringValue ?? "").isEmpty { missing.append("metadata.name") }
        guard missing.isEmpty else {
            let what = inList ? "a List item" : "document"
            throw DocumentError(line: line, reason: "\(what) has no \(missing.joined(separator: ", ")) (is this a Kubernetes manifest?)")
        }
        out.append((value, line))
    }
}

/// Parsed manifests by git blob id, so an unchanged file is never parsed twice. Owned by one
/// instance; `retain` drops what the latest revision no longer has. Failures are cached too: a
/// blob that did not parse never will.
public final class ParseCache: Sendable {
    /// One manifest as kept: its object as compact JSON (a tree of small dictionaries per object
    /// would cost several times the memory, for every object of every instance, all the time),
    /// what is read of it without decoding, and its line.
    struct Cached: Sendable {
        let json: [UInt8]
        let head: Manifest.Head
        let line: Int
    }
    enum Entry {
        case parsed([Cached])
        /// Not YAML, or a document that is not a Kubernetes object: where and why (the file's
        /// path is added when it is reported).
        case failed(line: Int, reason: String)
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let counters = Mutex((hits: 0, misses: 0))

    public init() {}

    /// The manifests of a blob, parsing `bytes()` on a miss. Each has a content key (the blob id
    /// and its position); from the cache, its object is decoded only when read.
    public func manifests(blobID: String, source: String, bytes: () throws(RenderError) -> [UInt8]) throws(RenderError) -> [Manifest] {
        if let cached = entries.withLock({ $0[blobID] }) {
            counters.withLock { $0.hits += 1 }
            switch cached {
            case .parsed(let manifests):
                return manifests.enumerated().map { i, m in
                    Manifest(json: m.json, head: m.head, source: source, line: m.line, contentKey: Self.contentKey(blobID, i))
                }
            case .failed(let line, let reason):
                throw RenderError(.parse, "\(source):\(line): \(reason)")
            }
        }
        counters.withLock { $0.misses += 1 }
        let objects: [(object: JSONValue, line: Int)]
        do {
            objects = try ManifestParser.objects(try ManifestParser.documents(try bytes()))
        } catch let error as YAMLError {
            entries.withLock { $0[blobID] = .failed(line: error.line, reason: error.message) }
            throw RenderError(.parse, "\(source):\(error.line): \(error.message)")
        } catch let error as ManifestParser.DocumentError {
            entries.withLock { $0[blobID] = .failed(line: error.line, reason: error.reason) }
            throw RenderError(.parse, "\(source):\(error.line): \(error.reason)")
        } catch {
            throw error as! RenderError
        }
        entries.withLock { $0[blobID] = .parsed(objects.map { Cached(json: $0.object.compactJSONBytes(), head: Manifest.Head($0.object), line: $0.line) }) }
        return objects.enumerated().map { i, o in Manifest(object: o.object, source: source, line: o.line, contentKey: Self.contentKey(blobID, i)) }
    }

    static func contentKey(_ blobID: String, _ index: Int) -> String { blobID + "#" + String(index) }

    /// Keeps only these blobs.
    public func retain(_ blobIDs: Set<String>) {
        entries.withLock { e in e = e.filter { blobIDs.contains($0.key) } }
    }

    public func contains(_ blobID: String) -> Bool { entries.withLock { $0[blobID] != nil } }

    public var count: Int { entries.withLock { $0.count } }
    /// Cache hits and misses so far (for tests and metrics).
    public var statistics: (hits: Int, misses: Int) { counters.withLock { $0 } }
}
