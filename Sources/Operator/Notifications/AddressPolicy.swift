import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a tenant's notification may be sent: http or https to a host whose every address is
/// public, unless the install allows private networks (`--notifications-private-networks`).
/// Loopback, link-local (the cloud metadata servers), private, CGNAT and unspecified addresses
/// would let a tenant make the operator's pod talk to what only the operator should reach.
enum AddressPolicy {
    static func host(_ address: String) -> String? {
        URLComponents(string: address)?.host
    }

    static func refusal(_ address: String, allowPrivate: Bool) async -> String? {
        guard let url = URLComponents(string: address), ["http", "https"].contains(url.scheme ?? ""), let host = url.host, !host.isEmpty else {
            return "the notification address is not an http(s) URL"
        }
        if allowPrivate { return nil }
        let addresses = await resolve(host)
        if addresses.isEmpty { return "the notification host \(host) does not resolve" }
        if let bad = addresses.first(where: isPrivate) {
            return "the notification host \(host) is on a private network (\(bad)): refused (--notifications-private-networks allows it)"
        }
        return nil
    }

    /// The host's addresses (getaddrinfo on a thread of its own: it blocks).
    static func resolve(_ host: String) async -> [String] {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), nil, &hints, &result) == 0 else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(result) }
                var out: [String] = []
                var p = result
                while let info = p {
                    var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                        out.append(String(cString: buffer))
                    }
                    p = info.pointee.ai_next
                }
                continuation.resume(returning: out)
            }
            thread.start()
        }
    }

    static func isPrivate(_ ip: String) -> Bool {
        if ip.contains(":") {
            let v6 = ip.lowercased()
            return v6 == "::1" || v6 == "::" || v6.hasPrefix("fe80") || v6.hasPrefix("fc") || v6.hasPrefix("fd")
                || (v6.hasPrefix("::ffff:") && isPrivate(String(v6.dropFirst(7))))
        }
        let o = ip.split(separator: ".").compactMap { Int($0) }
        guard o.count == 4 else { return true }
        switch (o[0], o[1]) {
        case (0, _), (10, _), (127, _): return true
        case (169, 254), (192, 168): return true
        case (172, 16...31): return true
        case (100, 64...127): return true
        default: return false
        }
    }
}
