import Foundation

extension Sequence where Element == UInt8 {
    /// Lower-case hex (digests in annotations and labels); `String(format:)` is far too slow for
    /// the per-object hot path.
    public var hexString: String {
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for b in self {
            out.append(JSONValue.hex[Int(b >> 4)])
            out.append(JSONValue.hex[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Base64url without padding (RFC 4648 §5), as Go's `base64.RawURLEncoding`.
    public var base64URLString: String {
        let standard = Data(self).base64EncodedString()
        var out: [UInt8] = []
        out.reserveCapacity(standard.utf8.count)
        for c in standard.utf8 {
            switch c {
            case UInt8(ascii: "+"): out.append(UInt8(ascii: "-"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "_"))
            case UInt8(ascii: "="): continue
            default: out.append(c)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
