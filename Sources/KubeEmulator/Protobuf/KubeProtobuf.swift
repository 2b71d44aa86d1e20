import KubeModel

/// An undecodable Kubernetes protobuf body.
struct ProtobufError: Error, Sendable, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Decodes `application/vnd.kubernetes.protobuf` request bodies into the JSON object the equivalent JSON
/// request would carry.
///
/// The wire format is the `k8s\0` magic followed by a `runtime.Unknown` envelope whose `raw` field holds the
/// object's message. Messages are described by `schemaText` (generated from the real `generated.proto`
/// descriptors and Go struct tags, see KubeProtobufSchema.swift), so decoding is a walk over that table. The
/// result is what Go's `encoding/json` makes of the decoded k8s object, minus `null` members (nil pointers,
/// slices and maps without `omitempty`, zero `metav1.Time`s such as `creationTimestamp: null`):
/// - message fields on the wire are emitted (Go always emits struct values, e.g. `"status": {}`);
/// - pointer scalars (`?`) and scalars without `omitempty` (`!`) are emitted even when zero;
/// - other scalars (gogo writes them even when zero) are emitted only when non-zero, as `omitempty` does;
/// - bytes become base64 strings; Time, Quantity, IntOrString, RawExtension... get their custom JSON forms.
enum KubeProtobuf {
    static let magic: [UInt8] = [0x6B, 0x38, 0x73, 0x00]

    /// Decodes a Kubernetes protobuf body (`k8s\0` magic + runtime.Unknown envelope) into the JSON object the
    /// equivalent JSON request would carry, including "apiVersion" and "kind" from the envelope's TypeMeta.
    static func decode(_ bytes: [UInt8]) throws(ProtobufError) -> JSONValue {
        try decode(bytes, depth: 0)
    }

    /// Whether a body starts with the Kubernetes protobuf magic.
    static func hasMagic(_ bytes: some Collection<UInt8>) -> Bool {
        bytes.count >= 4 && bytes.prefix(4).elementsEqual(magic)
    }

    static func decode(_ bytes: [UInt8], depth: Int) throws(ProtobufError) -> JSONValue {
        guard hasMagic(bytes) else {
            throw ProtobufError(message: "protobuf body does not start with the k8s\\0 magic")
        }
        var apiVersion = "", kind = "", contentEncoding = "", contentType = ""
        var raw = 4..<4
        var reader = WireReader(bytes: bytes, range: 4..<bytes.count)
        while !reader.atEnd {
            let (number, wireType) = try reader.readTag()
            switch (number, wireType) {
            case (1, 2):
                var typeMeta = try reader.readSubReader()
                while !typeMeta.atEnd {
                    let (n, w) = try typeMeta.readTag()
                    switch (n, w) {
                    case (1, 2): apiVersion = try typeMeta.readString()
                    case (2, 2): kind = try typeMeta.readString()
                    default: try typeMeta.skip(wireType: w)
                    }
                }
            case (2, 2): raw = try reader.readLengthDelimited()
            case (3, 2): contentEncoding = try reader.readString()
            case (4, 2): contentType = try reader.readString()
            default: try reader.skip(wireType: wireType)
            }
        }
        guard contentEncoding.isEmpty else {
            throw ProtobufError(message: "unsupported protobuf contentEncoding \"\(contentEncoding)\"")
        }
        if contentType.contains("json") {
            do { return try JSONValue.parse(bytes[raw]) } catch {
                throw ProtobufError(message: "invalid JSON in protobuf envelope: \(error)")
            }
        }
        guard !kind.isEmpty, !apiVersion.isEmpty else {
            throw ProtobufError(message: "protobuf envelope is missing apiVersion or kind")
        }
        guard let messageName = messageName(apiVersion: apiVersion, kind: kind) else {
            throw ProtobufError(message: "protobuf decoding of \(apiVersion), Kind=\(kind) is not supported")
        }
        var object = try decodeMessage(messageName, WireReader(bytes: bytes, range: raw), depth: depth + 1)
        object["apiVersion"] = .string(apiVersion)
        object["kind"] = .string(kind)
        if object["metadata"] == nil { object["metadata"] = .emptyObject }
        return .object(object)
    }

    /// The schema message for a kind: proto packages are named after the first label of the API group
    /// (`rbac.authorization.k8s.io/v1` → `rbac.v1`), the core group is `core`. DeleteOptions is registered in
    /// every group version (typed clients send it as e.g. `v1`), its message is `meta.v1.DeleteOptions`.
    static func messageName(apiVersion: String, kind: String) -> String? {
        if let name = groupMessageName(apiVersion: apiVersion, kind: kind), schema[name] != nil { return name }
        return kind == "DeleteOptions" ? "meta.v1.DeleteOptions" : nil
    }

    static func groupMessageName(apiVersion: String, kind: String) -> String? {
        let parts = apiVersion.split(separator: "/", omittingEmptySubsequences: false)
        let group: Substring, version: Substring
        switch parts.count {
        case 1: (group, version) = ("", parts[0])
        case 2: (group, version) = (parts[0], parts[1])
        default: return nil
        }
        let package = group.isEmpty ? "core" : group.prefix { $0 != "." }
        return "\(package).\(version).\(kind)"
    }

    // MARK: - Messages

    static let maxDepth = 64

    static func decodeMessage(
        _ name: String, _ reader: WireReader, depth: Int
    ) throws(ProtobufError) -> [String: JSONValue] {
        guard depth <= maxDepth else { throw ProtobufError(message: "protobuf message nested too deeply") }
        guard let message = schema[name] else { throw ProtobufError(message: "unknown protobuf message \(name)") }
        var reader = reader
        var object: [String: JSONValue] = [:]
        var lists: [String: [JSONValue]] = [:]
        var maps: [String: [String: JSONValue]] = [:]
        while !reader.atEnd {
            let (number, wireType) = try reader.readTag()
            guard let field = message.fields[number] else {
                try reader.skip(wireType: wireType)
                continue
            }
            switch field.cardinality {
            case .repeated:
                if wireType == 2, field.type.isPackable {
                    var packed = try reader.readSubReader()
                    while !packed.atEnd {
                        if let v = try decodeValue(field, wireType: field.type.wireType, &packed, depth: depth) {
                            lists[field.name, default: []].append(v)
                        }
                    }
                } else if let v = try decodeValue(field, wireType: wireType, &reader, depth: depth) {
                    lists[field.name, default: []].append(v)
                }
            case .map:
                try expect(wireType, 2, field)
                var entry = try reader.readSubReader()
                var key = ""
                var value: JSONValue?
                while !entry.atEnd {
                    let (n, w) = try entry.readTag()
                    switch n {
                    case 1: try expect(w, 2, field); key = try entry.readString()
                    case 2: value = try decodeValue(field, wireType: w, &entry, depth: depth)
                    default: try entry.skip(wireType: w)
                    }
                }
                maps[field.name, default: [:]][key] = value ?? field.type.zeroValue
            case .inline:
                try expect(wireType, 2, field)
                guard case .message(let inner) = field.type else { continue }
                let fields = try decodeMessage(inner, reader.readSubReader(), depth: depth + 1)
                object.merge(fields) { _, new in new }
            case .single(let emitZero):
                guard let v = try decodeValue(field, wireType: wireType, &reader, depth: depth) else {
                    object[field.name] = nil
                    continue
                }
                if !emitZero, field.type.isScalar, v.isZeroScalar {
                    object[field.name] = nil
                } else if case .object(let new) = v, case .object(let old)? = object[field.name] {
                    object[field.name] = .object(old.merging(new) { _, n in n })  // proto merge semantics
                } else {
                    object[field.name] = v
                }
            }
        }
        for (name, list) in lists { object[name] = .array(list) }
        for (name, map) in maps { object[name] = .object(map) }
        return object
    }

    static func expect(_ wireType: Int, _ expected: Int, _ field: FieldSpec) throws(ProtobufError) {
        guard wireType == expected else {
            throw ProtobufError(message: "protobuf field \"\(field.name)\": wrong wire type \(wireType)")
        }
    }

    /// Decodes one value of a field's type; `nil` means "absent in JSON" (an empty Time or RawExtension).
    static func decodeValue(
        _ field: FieldSpec, wireType: Int, _ reader: inout WireReader, depth: Int
    ) throws(ProtobufError) -> JSONValue? {
        if !(field.type == .double && wireType == 5) { try expect(wireType, field.type.wireType, field) }
        switch field.type {
        case .string: return .string(try reader.readString())
        case .bytes: return .string(base64(reader.bytes[try reader.readLengthDelimited()]))
        case .int32: return .int(Int64(Int32(truncatingIfNeeded: try reader.readVarint())))
        case .int64: return .int(Int64(bitPattern: try reader.readVarint()))
        case .uint:
            let v = try reader.readVarint()
            return v <= UInt64(Int64.max) ? .int(Int64(v)) : .double(Double(v))
        case .bool: return .bool(try reader.readVarint() != 0)
        case .double:
            if wireType == 5 { return .double(Double(Float(bitPattern: try reader.readFixed32()))) }
            return .double(Double(bitPattern: try reader.readFixed64()))
        case .message(let name):
            return .object(try decodeMessage(name, reader.readSubReader(), depth: depth + 1))
        case .special(let special):
            return try decodeSpecial(special, reader.readSubReader(), depth: depth + 1)
        }
    }

    // MARK: - Types with custom JSON forms

    static func decodeSpecial(
        _ special: SpecialType, _ reader: WireReader, depth: Int
    ) throws(ProtobufError) -> JSONValue? {
        var reader = reader
        var ints: [Int: UInt64] = [:]
        var strings: [Int: String] = [:]
        var raw: Range<Int>?
        var items: [JSONValue] = []
        let isEmpty = reader.atEnd
        while !reader.atEnd {
            let (n, w) = try reader.readTag()
            switch (special, n, w) {
            case (.stringList, 1, 2): items.append(.string(try reader.readString()))
            case (.rawExtension, 1, 2), (.fieldsV1, 1, 2): raw = try reader.readLengthDelimited()
            case (.quantity, 1, 2), (.intOrString, 3, 2): strings[n] = try reader.readString()
            case (_, _, 0): ints[n] = try reader.readVarint()
            default: try reader.skip(wireType: w)
            }
        }
        switch special {
        case .time, .microTime:
            // metav1.Time marshals the zero time as an empty message (JSON null: omitted here).
            if isEmpty { return nil }
            let seconds = Int64(bitPattern: ints[1] ?? 0)
            let nanos = Int64(Int32(truncatingIfNeeded: ints[2] ?? 0))
            return .string(rfc3339(seconds: seconds, micros: special == .microTime ? Int(nanos / 1000) : nil))
        case .duration:
            return .string(goDuration(Int64(bitPattern: ints[1] ?? 0)))
        case .quantity:
            return .string(strings[1] ?? "0")
        case .intOrString:
            if ints[1] == 1 { return .string(strings[3] ?? "") }
            return .int(Int64(Int32(truncatingIfNeeded: ints[2] ?? 0)))
        case .stringList:
            return .array(items)
        case .rawExtension, .fieldsV1:
            guard let raw, !raw.isEmpty else { return nil }
            let bytes = Array(reader.bytes[raw])
            if special == .rawExtension, hasMagic(bytes) { return try decode(bytes, depth: depth) }
            do { return try JSONValue.parse(bytes) } catch {
                throw ProtobufError(message: "embedded object is not JSON: \(error)")
            }
        }
    }

    /// RFC 3339 in UTC, as metav1.Time (`2006-01-02T15:04:05Z`) or metav1.MicroTime (`.000000Z`) marshal.
    static func rfc3339(seconds: Int64, micros: Int?) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secs = Int(seconds - days * 86400)
        // Days since 1970-01-01 to civil date (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ v: some BinaryInteger, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        var out = "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T"
        out += "\(pad(secs / 3600, 2)):\(pad(secs / 60 % 60, 2)):\(pad(secs % 60, 2))"
        if let micros { out += "." + pad(micros, 6) }
        return out + "Z"
    }

    /// Go's `time.Duration.String()` (metav1.Duration's JSON form): "1h2m3.5s", "1.5ms", "0s".
    static func goDuration(_ d: Int64) -> String {
        if d == 0 { return "0s" }
        var u = d.magnitude
        /// Fraction digits of `v / 10^precision` without trailing zeros; returns the integer part.
        func fraction(_ v: inout UInt64, _ precision: Int) -> String {
            var digits = ""
            var printing = false
            for _ in 0..<precision {
                let digit = v % 10
                printing = printing || digit != 0
                if printing { digits = String(digit) + digits }
                v /= 10
            }
            return printing ? "." + digits : ""
        }
        var out: String
        if u < 1_000_000_000 {
            let (precision, unit): (Int, String) =
                u < 1000 ? (0, "ns") : u < 1_000_000 ? (3, "\u{00B5}s") : (6, "ms")
            let frac = fraction(&u, precision)
            out = "\(u)\(frac)\(unit)"
        } else {
            let frac = fraction(&u, 9)
            out = "\(u % 60)\(frac)s"
            u /= 60
            if u > 0 {
                out = "\(u % 60)m" + out
                u /= 60
                if u > 0 { out = "\(u)h" + out }
            }
        }
        return d < 0 ? "-" + out : out
    }

    static func base64(_ bytes: ArraySlice<UInt8>) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b0 = bytes[i]
            let b1 = i + 1 < bytes.endIndex ? bytes[i + 1] : 0
            let b2 = i + 2 < bytes.endIndex ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.endIndex ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.endIndex ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension JSONValue {
    /// A scalar Go's `omitempty` would drop.
    fileprivate var isZeroScalar: Bool {
        switch self {
        case .string(let s): return s.isEmpty
        case .int(let i): return i == 0
        case .double(let d): return d == 0
        case .bool(let b): return !b
        default: return false
        }
    }
}
