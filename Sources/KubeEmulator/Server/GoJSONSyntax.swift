/// The first syntax error of a JSON document as Go's encoding/json reports it (its scanner's
/// messages: "unexpected end of JSON input", "invalid character 'x' looking for beginning of value",
/// …). kube-apiserver decodes request bodies with it, and its messages reach users in 400 Statuses.
struct GoJSONSyntax {
    private enum Expect { case value, valueOrEndArray, keyOrEndObject, key, colon, objectNext, arrayNext }
    private var stack: [Character] = []  // "{" or "["
    private var bytes: [UInt8]
    private var i = 0

    /// nil when `bytes` is valid JSON.
    static func error(in bytes: [UInt8]) -> String? {
        var scanner = GoJSONSyntax(bytes: bytes)
        return scanner.run()
    }

    private init(bytes: [UInt8]) { self.bytes = bytes }

    private static func quote(_ c: UInt8) -> String {
        switch c {
        case UInt8(ascii: "'"): return #"'\''"#
        case UInt8(ascii: "\""): return #"'"'"#
        case 0x0A: return #"'\n'"#
        case 0x0D: return #"'\r'"#
        case 0x09: return #"'\t'"#
        case 0x5C: return #"'\\'"#
        case 0x20..<0x7F: return "'\(Character(Unicode.Scalar(c)))'"
        default:
            let hex = String(c, radix: 16)
            return c < 0x20 ? "'\\x\(hex.count == 1 ? "0" + hex : hex)'" : "'\(Character(Unicode.Scalar(c)))'"
        }
    }

    private func invalid(_ c: UInt8, _ context: String) -> String { "invalid character \(Self.quote(c)) \(context)" }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
    }

    private mutating func run() -> String? {
        var expect = Expect.value
        while true {
            skipSpace()
            if stack.isEmpty, expect == .objectNext {  // a complete top-level value
                return i < bytes.count ? invalid(bytes[i], "after top-level value") : nil
            }
            guard i < bytes.count else { return "unexpected end of JSON input" }
            let c = bytes[i]
            switch expect {
            case .value, .valueOrEndArray:
                if expect == .valueOrEndArray, c == UInt8(ascii: "]") { i += 1; stack.removeLast(); expect = after(); continue }
                if let e = scalarOrOpen(c) { return e }
                expect = c == UInt8(ascii: "{") ? .keyOrEndObject : c == UInt8(ascii: "[") ? .valueOrEndArray : after()
            case .keyOrEndObject, .key:
                if expect == .keyOrEndObject, c == UInt8(ascii: "}") { i += 1; stack.removeLast(); expect = after(); continue }
                guard c == UInt8(ascii: "\"") else { return invalid(c, "looking for beginning of object key string") }
                if let e = string() { return e }
                expect = .colon
            case .colon:
                guard c == UInt8(ascii: ":") else { return invalid(c, "after object key") }
                i += 1
                expect = .value
            case .objectNext:
                if c == UInt8(ascii: ",") { i += 1; expect = .key; continue }
                if c == UInt8(ascii: "}") { i += 1; stack.removeLast(); expect = after(); continue }
                return invalid(c, "after object key:value pair")
            case .arrayNext:
                if c == UInt8(ascii: ",") { i += 1; expect = .value; continue }
                if c == UInt8(ascii: "]") { i += 1; stack.removeLast(); expect = after(); continue }
                return invalid(c, "after array element")
            }
        }
    }

    /// What follows a complete value: the enclosing container's separator, or the end.
    private func after() -> Expect {
        switch stack.last {
        case "{"?: return .objectNext
        case "["?: return .arrayNext
        default: return .objectNext  // at the top level: the end, checked by `run`
        }
    }

    private mutating func scalarOrOpen(_ c: UInt8) -> String? {
        switch c {
        case UInt8(ascii: "{"): stack.append("{"); i += 1
        case UInt8(ascii: "["): stack.append("["); i += 1
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return number()
        default: return invalid(c, "looking for beginning of value")
        }
        return nil
    }

    private mutating func literal(_ word: String) -> String? {
        let w = Array(word.utf8)
        for k in 1..<w.count {
            guard i + k < bytes.count else { i = bytes.count; return "unexpected end of JSON input" }
            if bytes[i + k] != w[k] { return invalid(bytes[i + k], "in literal \(word) (expecting \(Self.quote(w[k])))") }
        }
        i += w.count
        return nil
    }

    private mutating func string() -> String? {
        i += 1
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; return nil }
            if c < 0x20 { return invalid(c, "in string literal") }
            if c == UInt8(ascii: "\\") {
                i += 1
                guard i < bytes.count else { break }
                let e = bytes[i]
                if e == UInt8(ascii: "u") {
                    for _ in 0..<4 {
                        i += 1
                        guard i < bytes.count else { return "unexpected end of JSON input" }
                        guard bytes[i].isHexDigit else { return invalid(bytes[i], "in \\u hexadecimal character escape") }
                    }
                } else if !Array(#""\/bfnrt"#.utf8).contains(e) {
                    return invalid(e, "in string escape code")
                }
            }
            i += 1
        }
        return "unexpected end of JSON input"
    }

    private mutating func number() -> String? {
        func digit(_ k: Int) -> Bool { k < bytes.count && bytes[k] >= 0x30 && bytes[k] <= 0x39 }
        if bytes[i] == UInt8(ascii: "-") {
            i += 1
            guard i < bytes.count else { return "unexpected end of JSON input" }
            guard digit(i) else { return invalid(bytes[i], "in numeric literal") }
        }
        if bytes[i] == UInt8(ascii: "0") { i += 1 } else { while digit(i) { i += 1 } }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            guard i < bytes.count else { return "unexpected end of JSON input" }
            guard digit(i) else { return invalid(bytes[i], "after decimal point in numeric literal") }
            while digit(i) { i += 1 }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            guard i < bytes.count else { return "unexpected end of JSON input" }
            guard digit(i) else { return invalid(bytes[i], "in exponent of numeric literal") }
            while digit(i) { i += 1 }
        }
        return nil
    }
}

private extension UInt8 {
    var isHexDigit: Bool { (0x30...0x39).contains(self) || (0x41...0x46).contains(self) || (0x61...0x66).contains(self) }
}
