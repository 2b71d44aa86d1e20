/// An error from the JSON parser, with the byte offset where parsing stopped.
public struct JSONParseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let offset: Int
    public var description: String { "invalid JSON at offset \(offset): \(message)" }
}

extension JSONValue {
    /// Parses JSON text. A fast byte-level parser: Foundation's JSONSerialization is too slow for the
    /// emulator's and the client's hot paths.
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONParseError) -> JSONValue {
        try JSONParser.run(bytes) { (parser: inout JSONParser) throws(JSONParseError) in try parser.parseDocument() }
    }

    public static func parse(_ string: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(string.utf8))
    }

    /// Parses JSON text, leaving out every member named `skippedKey` at any depth: its value is
    /// only scanned (strings and brackets balanced), never built. For the large parts of a
    /// response nobody reads, such as `managedFields` in a list that only needs names and
    /// resource versions.
    public static func parse(_ bytes: some Collection<UInt8>, skipping skippedKey: String) throws(JSONParseError) -> JSONValue {
        try parse(bytes, filter: .skip(skippedKey))
    }

    /// Parses JSON text keeping only members whose name is in `keptKeys`, at every depth (the
    /// others are scanned, never built): `["items", "metadata", "name", "resourceVersion"]`
    /// reads a list's names and versions and nothing else.
    public static func parse(_ bytes: some Collection<UInt8>, keeping keptKeys: Set<String>) throws(JSONParseError) -> JSONValue {
        try parse(bytes, filter: .keep(keptKeys))
    }

    static func parse(_ bytes: some Collection<UInt8>, filter: JSONParser.KeyFilter) throws(JSONParseError) -> JSONValue {
        try JSONParser.run(bytes) { (parser: inout JSONParser) throws(JSONParseError) in
            parser.filter = filter
            return try parser.parseDocument()
        }
    }
}

struct JSONParser {
    let buffer: UnsafeBufferPointer<UInt8>
    var index = 0
    var depth = 0
    /// Which members are built; the others are only scanned.
    enum KeyFilter {
        case all
        case skip(String)
        case keep(Set<String>)
    }
    var filter = KeyFilter.all
    static let maxDepth = 10_000

    init(buffer: UnsafeBufferPointer<UInt8>) { self.buffer = buffer }

    /// Runs `body` with a parser over `bytes`: their own storage when contiguous, else a copy.
    static func run<T>(_ bytes: some Collection<UInt8>, _ body: (inout JSONParser) throws(JSONParseError) -> T) throws(JSONParseError) -> T {
        func go(_ buffer: UnsafeBufferPointer<UInt8>) -> Result<T, JSONParseError> {
            var parser = JSONParser(buffer: buffer)
            return Result { () throws(JSONParseError) in try body(&parser) }
        }
        if let fast = bytes.withContiguousStorageIfAvailable(go) { return try fast.get() }
        return try Array(bytes).withUnsafeBufferPointer(go).get()
    }

    func fail(_ message: String) -> JSONParseError { JSONParseError(message: message, offset: index) }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == buffer.count else { throw fail("unexpected trailing data") }
        return value
    }

    mutating func skipWhitespace() {
        while index < buffer.count {
            switch buffer[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard index < buffer.count else { throw fail("unexpected end of input") }
        switch buffer[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        default: return try parseNumber()
        }
    }

    mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let count = literal.utf8CodeUnitCount
        guard index + count <= buffer.count else { throw fail("invalid literal") }
        let ptr = literal.utf8Start
        for i in 0..<count where buffer[index + i] != ptr[i] { throw fail("invalid literal") }
        index += count
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        depth += 1
        guard depth < Self.maxDepth else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        index += 1
        var object: [String: JSONValue] = [:]
        skipWhitespace()
        if index < buffer.count, buffer[index] == UInt8(ascii: "}") {
            index += 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: "\"") else { throw fail("expected object key") }
            let key = try parseString()
            skipWhitespace()
            guard index < buffer.count, buffer[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            index += 1
            skipWhitespace()
            let wanted: Bool
            switch filter {
            case .all: wanted = true
            case .skip(let skipped): wanted = key != skipped
            case .keep(let kept): wanted = kept.contains(key)
            }
            if wanted {
                object[key] = try parseValue()
            } else {
                try skipValue()
            }
            skipWhitespace()
            guard index < buffer.count else { throw fail("unexpected end of object") }
            if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
            if buffer[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
            throw fail("expected ',' or '}'")
        }
    }

    /// Moves past one value without building it: strings are scanned to their closing quote,
    /// brackets are balanced, scalars run to the next delimiter.
    mutating func skipValue() throws(JSONParseError) {
        var level = 0
        repeat {
            guard index < buffer.count else { throw fail("unexpected end of input") }
            switch buffer[index] {
            case UInt8(ascii: "\""):
                index += 1
                while index < buffer.count && buffer[index] != UInt8(ascii: "\"") {
                    index += buffer[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard index < buffer.count else { throw fail("unterminated string") }
                index += 1
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                level += 1
                guard level < Self.maxDepth else { throw fail("nesting too deep") }
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard level > 0 else { throw fail("unexpected '\(Character(Unicode.Scalar(buffer[index])))'") }
                level -= 1
                index += 1
            default:
                if level == 0 {
                    // A scalar: up to the delimiter that ends it.
                    let start = index
                    scan: while index < buffer.count {
                        switch buffer[index] {
                        case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ":"), 0x20, 0x0A, 0x0D, 0x09: break scan
                        default: index += 1
                        }
                    }
                    guard index > start else { throw fail("expected a value") }
                    return
                }
                index += 1
            }
        } while level > 0
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        depth += 1
        guard depth < Self.maxDepth else { throw fail("nesting too deep") }
        defer { depth -= 1 }
        index += 1
        var array: [JSONValue] = []
        skipWhitespace()
        if index < buffer.count, buffer[index] == UInt8(ascii: "]") {
            index += 1
            return .array(array)
        }
        while true {
            skipWhitespace()
            array.append(try parseValue())
            skipWhitespace()
            guard index < buffer.count else { throw fail("unexpected end of array") }
            if buffer[index] == UInt8(ascii: ",") { index += 1; continue }
            if buffer[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
            throw fail("expected ',' or ']'")
        }
    }

    mutating func parseString() throws(JSONParseError) -> String {
        index += 1
        let start = index
        // Fast path: no escapes.
        while index < buffer.count {
            let c = buffer[index]
            if c == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
                index += 1
                return s
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw fail("control character in string") }
            index += 1
        }
        var bytes = Array(buffer[start..<index])
        while index < buffer.count {
            let c = buffer[index]
            if c == UInt8(ascii: "\"") {
                index += 1
                return String(decoding: bytes, as: UTF8.self)
            }
            if c == UInt8(ascii: "\\") {
                index += 1
                guard index < buffer.count else { break }
                let e = buffer[index]
                index += 1
                switch e {
                case UInt8(ascii: "\""): bytes.append(0x22)
                case UInt8(ascii: "\\"): bytes.append(0x5C)
                case UInt8(ascii: "/"): bytes.append(0x2F)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try parseHex4()
                    if (0xD800..<0xDC00).contains(scalar), index + 1 < buffer.count,
                        buffer[index] == UInt8(ascii: "\\"), buffer[index + 1] == UInt8(ascii: "u")
                    {
                        index += 2
                        let low = try parseHex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    let u = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                    bytes.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw fail("invalid escape")
                }
                continue
            }
            bytes.append(c)
            index += 1
        }
        throw fail("unterminated string")
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard index + 4 <= buffer.count else { throw fail("invalid unicode escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = buffer[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw fail("invalid unicode escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONValue {
        let start = index
        var isInteger = true
        if index < buffer.count, buffer[index] == UInt8(ascii: "-") { index += 1 }
        var sawDigit = false
        while index < buffer.count {
            let c = buffer[index]
            if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") {
                sawDigit = true
                index += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E")
                || c == UInt8(ascii: "+") || (c == UInt8(ascii: "-") && index > start)
            {
                isInteger = false
                index += 1
            } else {
                break
            }
        }
        guard sawDigit else { throw fail("invalid value") }
        let text = String(decoding: UnsafeBufferPointer(rebasing: buffer[start..<index]), as: UTF8.self)
        if isInteger, let i = Int64(text) { return .int(i) }
        guard let d = Double(text) else { throw fail("invalid number") }
        return .double(d)
    }
}
