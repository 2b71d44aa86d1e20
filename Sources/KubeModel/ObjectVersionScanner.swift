/// Which version of an object a list holds: enough to tell whether it moved since it was read.
public struct ObjectVersion: Sendable, Equatable {
    public var namespace: String?
    public var name: String
    public var uid: String?
    public var resourceVersion: String

    public init(namespace: String?, name: String, uid: String?, resourceVersion: String) {
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.resourceVersion = resourceVersion
    }
}

/// One page of a list, read for its objects' versions only.
public struct ObjectVersionPage: Sendable, Equatable {
    public var items: [ObjectVersion] = []
    /// The list's `metadata.resourceVersion`.
    public var resourceVersion = ""
    /// The list's `metadata.continue`, if any.
    public var continueToken: String? = nil

    public init() {}
}

/// Reads a list (a `PartialObjectMetadataList`, or any list of objects) for each item's
/// `metadata.namespace`, `name`, `uid` and `resourceVersion`, and the list's own
/// `metadata.resourceVersion` and `continue`. Nothing else is built: keys are matched as bytes,
/// every other value (labels, annotations, `managedFields`, spec) is scanned past. A resync lists
/// a thousand objects' metadata this way, most of it `managedFields`.
public enum ObjectVersionScanner {
    public static func scan(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> ObjectVersionPage {
        try JSONParser.run(bytes) { (parser: inout JSONParser) throws(JSONParseError) in try parser.scanList() }
    }
}

extension JSONParser {
    /// The member names the scanner reads.
    enum ScannedKey {
        case items, metadata, name, namespace, uid, resourceVersion, continueToken, other

        init(_ key: UnsafeBufferPointer<UInt8>) {
            func equals(_ literal: StaticString) -> Bool {
                guard key.count == literal.utf8CodeUnitCount else { return false }
                let bytes = literal.utf8Start
                for i in 0..<key.count where key[i] != bytes[i] { return false }
                return true
            }
            switch key.count {
            case 3: self = equals("uid") ? .uid : .other
            case 4: self = equals("name") ? .name : .other
            case 5: self = equals("items") ? .items : .other
            case 8: self = equals("metadata") ? .metadata : (equals("continue") ? .continueToken : .other)
            case 9: self = equals("namespace") ? .namespace : .other
            case 15: self = equals("resourceVersion") ? .resourceVersion : .other
            default: self = .other
            }
        }

        init(_ key: String) {
            var key = key
            self = key.withUTF8 { ScannedKey($0) }
        }
    }

    /// The next member's name, as a `ScannedKey` (a name with escapes is decoded first).
    mutating func scanKey() throws(JSONParseError) -> ScannedKey {
        skipWhitespace()
        guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else { throw fail("expected object key") }
        var end = index + 1
        while end < buffer.count, buffer[end] != UInt8(ascii: "\""), buffer[end] != UInt8(ascii: "\\") { end += 1 }
        let key: ScannedKey
        if end < buffer.count, buffer[end] == UInt8(ascii: "\"") {
            key = ScannedKey(UnsafeBufferPointer(rebasing: buffer[(index + 1)..<end]))
            index = end + 1
        } else {
            key = ScannedKey(try parseString())
        }
        skipWhitespace()
        guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
        index += 1
        skipWhitespace()
        return key
    }

    /// Calls `member` for each member of the object at `index` (which reads or skips its value).
    mutating func scanObject(_ member: (inout JSONParser, ScannedKey) throws(JSONParseError) -> Void) throws(JSONParseError) {
        skipWhitespace()
        guard index < buffer.count, buffer[index] == UInt8(ascii: "{") else { throw fail("expected an object") }
        index += 1
        skipWhitespace()
        if index < buffer.count, buffer[index] == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            let key = try scanKey()
            try member(&self, key)
            skipWhitespace()
            guard index < buffer.count else { throw fail("unexpected end of object") }
            if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
            if buffer[index] == UInt8(ascii: "}") { index += 1; return }
            throw fail("expected ',' or '}'")
        }
    }

    func next(is character: Unicode.Scalar) -> Bool {
        index < buffer.count && buffer[index] == UInt8(ascii: character)
    }

    /// A string value, or nil (skipped) for any other value.
    mutating func scanString() throws(JSONParseError) -> String? {
        guard index < buffer.count else { throw fail("unexpected end of input") }
        if buffer[index] == UInt8(ascii: "\"") { return try parseString() }
        try skipValue()
        return nil
    }

    mutating func scanList() throws(JSONParseError) -> ObjectVersionPage {
        var page = ObjectVersionPage()
        try scanObject { (p: inout JSONParser, key) throws(JSONParseError) in
            switch key {
            case .metadata where p.next(is: "{"):
                try p.scanObject { (p: inout JSONParser, key) throws(JSONParseError) in
                    switch key {
                    case .resourceVersion: page.resourceVersion = try p.scanString() ?? ""
                    case .continueToken: page.continueToken = try p.scanString()
                    default: try p.skipValue()
                    }
                }
            case .items where p.next(is: "["):
                try p.scanItems(into: &page.items)
            default:
                try p.skipValue()
            }
        }
        skipWhitespace()
        guard index == buffer.count else { throw fail("unexpected trailing data") }
        return page
    }

    mutating func scanItems(into items: inout [ObjectVersion]) throws(JSONParseError) {
        index += 1
        skipWhitespace()
        if index < buffer.count, buffer[index] == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            var item = ObjectVersion(namespace: nil, name: "", uid: nil, resourceVersion: "")
            try scanObject { (p: inout JSONParser, key) throws(JSONParseError) in
                guard key == .metadata, p.next(is: "{") else { return try p.skipValue() }
                try p.scanObject { (p: inout JSONParser, key) throws(JSONParseError) in
                    switch key {
                    case .name: item.name = try p.scanString() ?? ""
                    case .namespace: item.namespace = try p.scanString()
                    case .uid: item.uid = try p.scanString()
                    case .resourceVersion: item.resourceVersion = try p.scanString() ?? ""
                    default: try p.skipValue()
                    }
                }
            }
            items.append(item)
            skipWhitespace()
            guard index < buffer.count else { throw fail("unexpected end of array") }
            if buffer[index] == UInt8(ascii: ",") { index += 1; skipWhitespace(); continue }
            if buffer[index] == UInt8(ascii: "]") { index += 1; return }
            throw fail("expected ',' or ']'")
        }
    }
}
