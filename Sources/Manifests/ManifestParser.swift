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
        var out: [Manifest] = []
        for doc in documents {
            try collect(doc.value, source: source, line: doc.line, into: &out, inList: false)
        }
        return out
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

    static func collect(_ value: JSONValue, source: String, line: Int, into out: inout [Manifest], inList: Bool) throws(RenderError) {
        if value.isNull { return }
        guard value.objectValue != nil else {
            throw RenderError(.parse, "\(source):\(line): document is a \(value.typeName), not a Kubernetes object")
        }
        let kind = value["kind"]?.stringValue ?? ""
        if !inList, kind == "List" || kind.hasSuffix("List"), let items = value["items"]?.arrayValue {
            for item in items { try collect(item, source: source, line: line, into: &out, inList: true) }
            return
        }
        var missing: [String] = []
        if (value["apiVersion"]?.stringValue ?? "").isEmpty { missing.append("apiVersion") }
        if kind.isEmpty { missing.append("kind") }
        if (value["metadata"]?["name"]?.stringValue ?? "").isEmpty { missing.append("metadata.name") }
        guard missing.isEmpty else {
            let what = inList ? "a List item" : "document"
            throw RenderError(.parse, "\(source):\(line): \(what) has no \(missing.joined(separator: ", ")) (is this a Kubernetes manifest?)")
        }
        out.append(Manifest(object: value, source: source, line: line))
    }
}

/// Parsed documents by git blob id, so an unchanged file is never parsed twice. Owned by one
/// instance; `retain` drops what the latest revision no longer has. Failures are cached too: a
/// blob that did not parse never will.
public final class ParseCache: Sendable {
    enum Entry {
        /// Each document as JSON text and its line: a tree of small dictionaries per object would
        /// cost several times the memory, for every object of every instance, all the time.
        case parsed([(json: [UInt8], line: Int)])
        case failed(YAMLError)
    }
    private let entries = Mutex<[String: Entry]>([:])
    private let counters = Mutex((hits: 0, misses: 0))

    public init() {}

    /// Documents of a blob, parsing `bytes()` on a miss.
    public func documents(blobID: String, source: String, bytes: () throws(RenderError) -> [UInt8]) throws(RenderError) -> ManifestParser.Documents {
        let cached = entries.withLock { $0[blobID] }
        let entry: Entry
        if let cached {
            counters.withLock { $0.hits += 1 }
            entry = cached
        } else {
            counters.withLock { $0.misses += 1 }
            do {
                entry = .parsed(try ManifestParser.documents(try bytes()).map { ($0.value.compactJSONBytes(), $0.line) })
            } catch let error as YAMLError {
                entry = .failed(error)
            } catch {
                throw error as! RenderError
            }
            entries.withLock { $0[blobID] = entry }
        }
        switch entry {
        case .parsed(let docs):
            var out: ManifestParser.Documents = []
            out.reserveCapacity(docs.count)
            for doc in docs {
                do {
                    out.append(YAMLDocument(value: try JSONValue.parse(doc.json), line: doc.line))
                } catch {
                    throw RenderError(.parse, "\(source):\(doc.line): cannot read the cached document: \(error)")
                }
            }
            return out
        case .failed(let e): throw RenderError(.parse, "\(source):\(e.line): \(e.message)")
        }
    }

    /// Keeps only these blobs.
    public func retain(_ blobIDs: Set<String>) {
        entries.withLock { e in e = e.filter { blobIDs.contains($0.key) } }
    }

    public func contains(_ blobID: String) -> Bool { entries.withLock { $0[blobID] != nil } }

    public var count: Int { entries.withLock { $0.count } }
    /// Cache hits and misses so far (for tests and metrics).
    public var statistics: (hits: Int, misses: Int) { counters.withLock { $0 } }
}
