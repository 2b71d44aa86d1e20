import Synchronization

/// The compiled `pattern`s of CRD schemas, compiled once each: a validation checks every string
/// with a pattern, and compiling a `Regex` from its text is most of that check's cost (a storm of
/// FluxInstance status writes spent a sixth of the emulator's CPU compiling the same few patterns).
/// Bounded: patterns come from CRDs, a handful per cluster; past `limit` the cache starts over.
enum SchemaPatterns {
    /// A pattern's compiled regex, or nil when it does not compile (then it is not checked, as before).
    private struct Entry { var regex: Regex<AnyRegexOutput>? }

    private static let cache = Mutex<[String: Entry]>([:])
    static let limit = 1024

    /// False when `text` does not match `pattern` (a search, like Go's `regexp.MatchString`); true
    /// when it does or the pattern does not compile.
    static func matches(_ text: String, pattern: String) -> Bool {
        cache.withLock { cache in
            let entry: Entry
            if let known = cache[pattern] {
                entry = known
            } else {
                if cache.count >= limit { cache.removeAll() }
                entry = Entry(regex: try? Regex(pattern))
                cache[pattern] = entry
            }
            guard let regex = entry.regex else { return true }
            return (try? regex.firstMatch(in: text)) != nil
        }
    }
}
