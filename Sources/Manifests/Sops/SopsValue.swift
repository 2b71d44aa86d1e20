import Crypto
import Foundation

/// One SOPS-encrypted scalar, `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`: AES-256-GCM with the
/// file's data key, a 32-byte nonce, and the value's path as additional data.
struct SopsValue: Equatable {
    enum Kind: String { case str, int, float, bool, bytes, comment }
    var data: [UInt8]
    var iv: [UInt8]
    var tag: [UInt8]
    var kind: Kind

    /// nil when `text` is not an encrypted value.
    init?(_ text: String) {
        guard text.hasPrefix("ENC[AES256_GCM,"), text.hasSuffix("]") else { return nil }
        var fields: [String: String] = [:]
        for part in text.dropFirst("ENC[AES256_GCM,".count).dropLast().split(separator: ",") {
            guard let colon = part.firstIndex(of: ":") else { return nil }
            fields[String(part[..<colon])] = String(part[part.index(after: colon)...])
        }
        guard let data = fields["data"].flatMap({ Data(base64Encoded: $0) }), let iv = fields["iv"].flatMap({ Data(base64Encoded: $0) }),
              let tag = fields["tag"].flatMap({ Data(base64Encoded: $0) }), let kind = fields["type"].flatMap(Kind.init) else { return nil }
        (self.data, self.iv, self.tag, self.kind) = (Array(data), Array(iv), Array(tag), kind)
    }

    /// The plaintext bytes; throws when the key, the additional data or the value is wrong.
    func open(key: [UInt8], additionalData: String) throws -> [UInt8] {
        let box = try AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: iv), ciphertext: data, tag: tag)
        return Array(try AES.GCM.open(box, using: SymmetricKey(data: key), authenticating: Array(additionalData.utf8)))
    }
}
