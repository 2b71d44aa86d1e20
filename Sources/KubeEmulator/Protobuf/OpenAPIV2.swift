import KubeModel

/// `/openapi/v2`: the Swagger 2.0 document kubectl falls back to for client-side validation (kinds
/// whose v3 document has no PATCH operation to check `fieldValidation` on, such as the reviews) and
/// for `kubectl explain --output=plaintext-openapiv2`. kubectl reads it only as protobuf (gnostic's
/// `openapi.v2.Document`); other clients ask for JSON. Definitions only: no client here reads its paths.
enum OpenAPIV2 {
    static let protobufTypes = ["application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"]

    /// The Swagger document with `definitions` converted from OpenAPI v3 schemas.
    static func document(definitions: [String: JSONValue]) -> JSONValue {
        ["swagger": "2.0", "info": ["title": "Kubernetes", "version": "v1.30.0"], "paths": .emptyObject,
         "definitions": .object(definitions.mapValues(schema))]
    }

    /// One schema in Swagger 2.0's form: `#/definitions/` references, a lone `allOf` reference
    /// folded into `$ref` (as kube-openapi writes v2), and what v2 lacks (nullable, oneOf, anyOf, not) dropped.
    static func schema(_ v3: JSONValue) -> JSONValue {
        guard case .object(var fields) = v3 else { return v3 }
        if case .array(let all)? = fields["allOf"], all.count == 1, let ref = all[0]["$ref"] {
            fields["allOf"] = nil
            fields["$ref"] = ref
        }
        for key in ["nullable", "oneOf", "anyOf", "not"] { fields[key] = nil }
        if let ref = fields["$ref"]?.stringValue {
            fields["$ref"] = .string(ref.replacingAll("#/components/schemas/", with: "#/definitions/"))
        }
        for key in ["items", "additionalProperties"] where fields[key]?.objectValue != nil {
            fields[key] = schema(fields[key]!)
        }
        if case .array(let all)? = fields["allOf"] { fields["allOf"] = .array(all.map(schema)) }
        if case .object(let properties)? = fields["properties"] { fields["properties"] = .object(properties.mapValues(schema)) }
        return .object(fields)
    }

    // MARK: protobuf (gnostic openapiv2/OpenAPIv2.proto)

    static func protobuf(_ document: JSONValue) -> [UInt8] {
        var w = ProtobufWriter()
        w.string(1, document["swagger"]?.stringValue ?? "2.0")
        w.message(2) { info in
            info.string(1, document["info"]?["title"]?.stringValue ?? "")
            info.string(2, document["info"]?["version"]?.stringValue ?? "")
        }
        let definitions = document["definitions"]?.objectValue ?? [:]
        w.message(9) { defs in
            for name in definitions.keys.sorted() {
                defs.message(1) { named in
                    named.string(1, name)
                    named.message(2) { encodeSchema(definitions[name]!, &$0) }
                }
            }
        }
        return w.bytes
    }

    static func encodeSchema(_ s: JSONValue, _ w: inout ProtobufWriter) {
        let strings: [(Int, String)] = [(1, "$ref"), (2, "format"), (3, "title"), (4, "description"), (13, "pattern"), (26, "discriminator")]
        for (field, key) in strings { if let v = s[key]?.stringValue { w.string(field, v) } }
        if let v = s["default"] { w.message(5) { $0.string(2, v.jsonString()) } }
        for (field, key) in [(6, "multipleOf"), (7, "maximum"), (9, "minimum")] { if let v = s[key]?.doubleValue { w.double(field, v) } }
        for (field, key) in [(8, "exclusiveMaximum"), (10, "exclusiveMinimum"), (16, "uniqueItems"), (27, "readOnly")] {
            if s[key]?.boolValue == true { w.bool(field, true) }
        }
        for (field, key) in [(11, "maxLength"), (12, "minLength"), (14, "maxItems"), (15, "minItems"), (17, "maxProperties"), (18, "minProperties")] {
            if let v = s[key]?.intValue { w.int64(field, v) }
        }
        for r in s["required"]?.arrayValue ?? [] { if let name = r.stringValue { w.string(19, name) } }
        for e in s["enum"]?.arrayValue ?? [] { w.message(20) { $0.string(2, e.jsonString()) } }
        switch s["additionalProperties"] {
        case .object?: w.message(21) { item in item.message(1) { encodeSchema(s["additionalProperties"]!, &$0) } }
        case .bool(let b)?: w.message(21) { $0.bool(2, b) }
        default: break
        }
        if let type = s["type"]?.stringValue { w.message(22) { $0.string(1, type) } }
        switch s["items"] {
        case .object?: w.message(23) { item in item.message(1) { encodeSchema(s["items"]!, &$0) } }
        case .array(let list)?: w.message(23) { item in for one in list { item.message(1) { encodeSchema(one, &$0) } } }
        default: break
        }
        for one in s["allOf"]?.arrayValue ?? [] { w.message(24) { encodeSchema(one, &$0) } }
        if let properties = s["properties"]?.objectValue {
            w.message(25) { props in
                for name in properties.keys.sorted() {
                    props.message(1) { named in
                        named.string(1, name)
                        named.message(2) { encodeSchema(properties[name]!, &$0) }
                    }
                }
            }
        }
        if let example = s["example"] { w.message(30) { $0.string(2, example.jsonString()) } }
        for (key, value) in (s.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) where key.hasPrefix("x-") {
            w.message(31) { named in
                named.string(1, key)
                named.message(2) { $0.string(2, value.jsonString()) }  // Any.yaml: JSON is YAML
            }
        }
    }
}

/// Protocol buffers' wire format, for the messages the emulator writes.
struct ProtobufWriter {
    var bytes: [UInt8] = []

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func tag(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }

    mutating func string(_ field: Int, _ value: String) {
        tag(field, 2)
        let utf8 = Array(value.utf8)
        varint(UInt64(utf8.count))
        bytes += utf8
    }

    mutating func bool(_ field: Int, _ value: Bool) {
        tag(field, 0)
        varint(value ? 1 : 0)
    }

    mutating func int64(_ field: Int, _ value: Int64) {
        tag(field, 0)
        varint(UInt64(bitPattern: value))
    }

    mutating func double(_ field: Int, _ value: Double) {
        tag(field, 1)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 }
    }

    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        tag(field, 2)
        varint(UInt64(inner.bytes.count))
        bytes += inner.bytes
    }
}
