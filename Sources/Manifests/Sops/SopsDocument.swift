import Crypto
import Foundation
import KubeModel

/// A SOPS document's decryption once its data key is known: which values are encrypted (the
/// file's `encrypted_regex`, `unencrypted_suffix`, … rules), each opened with its path as
/// additional data, and the MAC over every value, in file order, checked against `sops.mac`.
/// No I/O; tested on its own (SopsTests).
struct SopsDocument {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// The document without its `sops` key.
    var tree: YAMLNode
    var metadata: YAMLNode

    init?(_ node: YAMLNode) {
        guard case .mapping(let pairs) = node, let sops = node["sops"], sops["mac"] != nil || sops["lastmodified"] != nil else { return nil }
        tree = .mapping(pairs.filter { $0.key?.value != "sops" })
        metadata = sops
    }

    func string(_ key: String) -> String? { metadata[key]?.scalar?.value }

    /// Who can give the data key: age recipients and the armored `enc` of each; PGP fingerprints.
    var ageStanzas: [(recipient: String, enc: String)] {
        (metadata["age"]?.items ?? []).compactMap { item in item["enc"]?.scalar.map { (item["recipient"]?.scalar?.value ?? "", $0.value) } }
    }
    var pgpStanzas: [(fingerprint: String, enc: String)] {
        (metadata["pgp"]?.items ?? []).compactMap { item in item["enc"]?.scalar.map { (item["fp"]?.scalar?.value ?? "", $0.value) } }
    }

    /// Whether the value at `path` is encrypted under the file's rules.
    func encrypted(_ path: [String]) throws -> Bool {
        if let suffix = string("unencrypted_suffix"), path.contains(where: { $0.hasSuffix(suffix) }) { return false }
        if let suffix = string("encrypted_suffix") { return path.contains { $0.hasSuffix(suffix) } }
        if let pattern = string("unencrypted_regex"), try path.contains(where: { try Self.matches(pattern, $0) }) { return false }
        if let pattern = string("encrypted_regex") { return try path.contains { try Self.matches(pattern, $0) } }
        return true
    }

    static func matches(_ pattern: String, _ text: String) throws -> Bool {
        do { return try Regex(pattern).firstMatch(in: text) != nil } catch {
            throw Failure(description: "the SOPS rule /\(pattern)/ is not a regular expression")
        }
    }

    /// The decrypted document, after the MAC matched.
    func decrypt(key: [UInt8]) throws -> JSONValue {
        var hash = SHA512()
        let macOnlyEncrypted = string("mac_only_encrypted") == "true"
        if let comment = commentMarker {
            throw Failure(description: "it has encrypted comments (\(comment)), which Flotilla cannot authenticate: remove the comments and encrypt again")
        }
        func walk(_ node: YAMLNode, _ path: [String]) throws -> JSONValue {
            switch node {
            case .mapping(let pairs):
                var object: [String: JSONValue] = [:]
                for (key, value) in pairs {
                    guard let key = key?.value else { continue }
                    object[key] = try walk(value, path + [key])
                }
                return .object(object)
            case .sequence(let items):
                return .array(try items.map { try walk($0, path) })
            case .alias:
                throw Failure(description: "YAML aliases are not allowed in an encrypted document")
            case .scalar(let scalar):
                let encrypted = try encrypted(path)
                if encrypted, let value = SopsValue(scalar.value) {
                    let plain: [UInt8]
                    do { plain = try value.open(key: key, additionalData: path.joined(separator: ":") + ":") } catch {
                        throw Failure(description: "the value at \(path.joined(separator: ".")) does not decrypt with the data key (changed, or moved in the file)")
                    }
                    hash.update(data: plain)
                    return try Self.typed(plain, value.kind, path)
                }
                let value = scalar.style == .plain ? YAML.resolvePlainScalar(scalar.value) : .string(scalar.value)
                if !macOnlyEncrypted || encrypted { hash.update(data: Self.macBytes(value)) }
                return value
            }
        }
        let document = try walk(tree, [])
        guard let mac = string("mac").flatMap(SopsValue.init), let lastModified = string("lastmodified") else {
            throw Failure(description: "its sops metadata has no mac or lastmodified: refusing a file that cannot be authenticated")
        }
        let expected: String
        do { expected = String(decoding: try mac.open(key: key, additionalData: lastModified), as: UTF8.self) } catch {
            throw Failure(description: "its MAC does not decrypt with the data key (the metadata was changed)")
        }
        let computed = hash.finalize().map { String(format: "%02X", $0) }.joined()
        guard computed.caseInsensitiveCompare(expected) == .orderedSame else {
            throw Failure(description: "its MAC does not match its values: the file was changed after it was encrypted")
        }
        return document
    }

    /// How SOPS feeds a value to the MAC (its `ToBytes`): booleans as Python wrote them.
    static func macBytes(_ value: JSONValue) -> [UInt8] {
        switch value {
        case .bool(let b): return Array((b ? "True" : "False").utf8)
        case .int(let i): return Array(String(i).utf8)
        case .double(let d): return Array(Self.goFloat(d).utf8)
        case .string(let s): return Array(s.utf8)
        default: return []
        }
    }

    /// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: the shortest decimal, never an exponent.
    static func goFloat(_ d: Double) -> String {
        let text = "\(d)"
        guard text.contains("e") else { return text.hasSuffix(".0") ? String(text.dropLast(2)) : text }
        return NSDecimalNumber(string: text).stringValue
    }

    static func typed(_ plain: [UInt8], _ kind: SopsValue.Kind, _ path: [String]) throws -> JSONValue {
        let text = String(decoding: plain, as: UTF8.self)
        switch kind {
        case .str, .bytes: return .string(text)
        case .int:
            guard let i = Int64(text) else { throw Failure(description: "the int at \(path.joined(separator: ".")) is not a number") }
            return .int(i)
        case .float:
            guard let d = Double(text) else { throw Failure(description: "the float at \(path.joined(separator: ".")) is not a number") }
            return .double(d)
        case .bool:
            return .bool(text.lowercased() == "true")
        case .comment:
            throw Failure(description: "it has encrypted comments, which Flotilla cannot authenticate")
        }
    }

    /// Encrypted comments live in YAML comments, which the tree does not keep: they are found in
    /// the raw text by `SopsDecryptor` and reported here.
    var commentMarker: String? = nil
}
