import KubeModel

// MARK: - Wire reader

extension KubeProtobuf {
    /// Reads protobuf wire format from a range of a shared byte array (sub-messages share the array).
    struct WireReader {
        let bytes: [UInt8]
        var position: Int
        let end: Int

        init(bytes: [UInt8], range: Range<Int>) {
            self.bytes = bytes
            self.position = range.lowerBound
            self.end = range.upperBound
        }

        var atEnd: Bool { position >= end }

        mutating func readVarint() throws(ProtobufError) -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while position < end, shift < 64 {
                let byte = bytes[position]
                position += 1
                result |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return result }
                shift += 7
            }
            throw ProtobufError(message: "truncated or overlong protobuf varint")
        }

        mutating func readTag() throws(ProtobufError) -> (number: Int, wireType: Int) {
            let key = try readVarint()
            let number = key >> 3
            guard number > 0, number <= 536_870_911 else { throw ProtobufError(message: "invalid protobuf field number") }
            return (Int(number), Int(key & 7))
        }

        mutating func readLengthDelimited() throws(ProtobufError) -> Range<Int> {
            let length = try readVarint()
            guard length <= UInt64(end - position) else { throw ProtobufError(message: "truncated protobuf field") }
            let range = position..<(position + Int(length))
            position = range.upperBound
            return range
        }

        mutating func readSubReader() throws(ProtobufError) -> WireReader {
            WireReader(bytes: bytes, range: try readLengthDelimited())
        }

        mutating func readString() throws(ProtobufError) -> String {
            String(decoding: bytes[try readLengthDelimited()], as: UTF8.self)
        }

        mutating func readFixed64() throws(ProtobufError) -> UInt64 {
            guard end - position >= 8 else { throw ProtobufError(message: "truncated protobuf fixed64") }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
            position += 8
            return v
        }

        mutating func readFixed32() throws(ProtobufError) -> UInt32 {
            guard end - position >= 4 else { throw ProtobufError(message: "truncated protobuf fixed32") }
            var v: UInt32 = 0
            for i in 0..<4 { v |= UInt32(bytes[position + i]) << (8 * UInt32(i)) }
            position += 4
            return v
        }

        mutating func skip(wireType: Int) throws(ProtobufError) {
            switch wireType {
            case 0: _ = try readVarint()
            case 1: _ = try readFixed64()
            case 2: _ = try readLengthDelimited()
            case 5: _ = try readFixed32()
            default: throw ProtobufError(message: "unsupported protobuf wire type \(wireType)")
            }
        }
    }
}

// MARK: - Schema

extension KubeProtobuf {
    enum SpecialType: Sendable, Equatable {
        case time, microTime, duration, quantity, intOrString, rawExtension, fieldsV1, stringList
    }

    enum ValueType: Sendable, Equatable {
        case string, bytes, int32, int64, uint, bool, double
        case message(String)
        case special(SpecialType)

        var wireType: Int {
            switch self {
            case .int32, .int64, .uint, .bool: return 0
            case .double: return 1
            case .string, .bytes, .message, .special: return 2
            }
        }

        var isPackable: Bool { wireType != 2 }

        /// Scalars are omitted when zero unless their field says otherwise; messages never are.
        var isScalar: Bool {
            switch self {
            case .message, .special: return false
            default: return true
            }
        }

        /// The value a map entry without a value field decodes to.
        var zeroValue: JSONValue {
            switch self {
            case .string, .bytes: return ""
            case .int32, .int64, .uint: return 0
            case .bool: return false
            case .double: return 0.0
            case .message: return .emptyObject
            case .special(.quantity): return "0"
            case .special(.intOrString): return 0
            case .special(.stringList): return []
            case .special: return .null
            }
        }
    }

    struct FieldSpec: Sendable {
        enum Cardinality: Sendable {
            case single(emitZero: Bool), repeated, map, inline
        }
        let name: String
        let cardinality: Cardinality
        let type: ValueType
    }

    struct MessageSpec: Sendable {
        var fields: [Int: FieldSpec] = [:]
    }
}

extension KubeProtobuf {
    /// Message name → field table, parsed once from `schemaText`.
    static let schema: [String: MessageSpec] = parseSchema(schemaText)

    static func parseSchema(_ text: String) -> [String: MessageSpec] {
        var result: [String: MessageSpec] = [:]
        for line in text.split(separator: "\n") {
            let tokens = line.split(separator: " ")
            guard let name = tokens.first else { continue }
            let package = name[..<(name.lastIndex(of: ".") ?? name.startIndex)]
            var message = MessageSpec()
            for token in tokens.dropFirst() {
                let parts = token.split(separator: ":", maxSplits: 2)
                guard parts.count == 3, let number = Int(parts[0]) else {
                    preconditionFailure("bad protobuf schema token \(token) in \(name)")
                }
                var code = parts[2]
                var cardinality = FieldSpec.Cardinality.single(emitZero: false)
                switch code.first {
                case "*": cardinality = .repeated; code = code.dropFirst()
                case "{": cardinality = .map; code = code.dropFirst()
                case "^": cardinality = .inline; code = code.dropFirst()
                default:
                    if code.last == "?" || code.last == "!" {
                        cardinality = .single(emitZero: true)
                        code = code.dropLast()
                    }
                }
                let type: ValueType
                switch code {
                case "s": type = .string
                case "b": type = .bytes
                case "i": type = .int32
                case "l": type = .int64
                case "u": type = .uint
                case "t": type = .bool
                case "d": type = .double
                case "T": type = .special(.time)
                case "U": type = .special(.microTime)
                case "D": type = .special(.duration)
                case "Q": type = .special(.quantity)
                case "I": type = .special(.intOrString)
                case "R": type = .special(.rawExtension)
                case "F": type = .special(.fieldsV1)
                case "L": type = .special(.stringList)
                default:
                    guard code.first == "@" else { preconditionFailure("bad protobuf schema type \(code) in \(name)") }
                    let ref = code.dropFirst()
                    type = .message(ref.first == "." ? String(package + ref) : String(ref))
                }
                message.fields[number] = FieldSpec(name: String(parts[1]), cardinality: cardinality, type: type)
            }
            result[String(name)] = message
        }
        return result
    }
}
