import Foundation

/// Which tags a container may be updated to, in Flux v1's syntax: `glob:PATTERN` (also with no
/// prefix), `semver:CONSTRAINT`, `regex:RE` / `regexp:RE`. Glob and regex pick the newest image
/// by creation time; semver picks the highest version. Unlike Flux v1, an invalid semver range or
/// regex is an error, never "match everything".
public enum TagFilter: Sendable, CustomStringConvertible {
    case glob(Glob)
    case semver(SemverConstraint)
    case regex(String, NSRegularExpressionBox)

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(Invalid) {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("semver:") {
            do { self = .semver(try SemverConstraint(String(t.dropFirst("semver:".count)).trimmingCharacters(in: .whitespaces))) } catch {
                throw Invalid(description: "invalid semver filter \"\(text)\": \(error.description)")
            }
        } else if t.hasPrefix("regex:") || t.hasPrefix("regexp:") {
            let pattern = String(t.drop { $0 != ":" }.dropFirst())
            do { self = .regex(pattern, NSRegularExpressionBox(try NSRegularExpression(pattern: pattern))) } catch {
                throw Invalid(description: "invalid regex filter \"\(text)\": \(error.localizedDescription)")
            }
        } else {
            let pattern = t.hasPrefix("glob:") ? String(t.dropFirst("glob:".count)) : t
            do { self = .glob(try Glob(pattern)) } catch {
                throw Invalid(description: "invalid glob filter \"\(text)\": \(error.description)")
            }
        }
    }

    public static let all = try! TagFilter("glob:*")

    public var description: String {
        switch self {
        case .glob(let g): return "glob:" + g.pattern
        case .semver(let c): return "semver:" + c.description
        case .regex(let p, _): return "regex:" + p
        }
    }

    /// Does the filter pick by version (semver) rather than by creation time?
    public var ordersByVersion: Bool {
        if case .semver = self { return true }
        return false
    }

    public func matches(_ tag: String) -> Bool {
        switch self {
        case .glob(let g): return g.matches(tag)
        case .semver(let c): return SemanticVersion(tag).map(c.allows) ?? false
        case .regex(_, let re): return re.matches(tag)
        }
    }
}

/// NSRegularExpression is immutable and documented thread-safe, but not marked Sendable.
public struct NSRegularExpressionBox: @unchecked Sendable {
    // @unchecked: NSRegularExpression instances are immutable after creation and Apple documents
    // them as safe to use from several threads at once.
    let regex: NSRegularExpression
    init(_ regex: NSRegularExpression) { self.regex = regex }
    func matches(_ s: String) -> Bool {
        regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil
    }
}

/// Glob patterns as Flux v1 used them (gobwas/glob without separators): `*` any run, `?` one
/// character, `[abc]` / `[a-z]` / `[!abc]` a class, `{a,b}` alternatives, `\` escapes.
public struct Glob: Sendable {
    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    indirect enum Piece: Sendable {
        case literal(Character)
        case any
        case one
        case set([ClosedRange<Character>], negated: Bool)
        case alternatives([[Piece]])
    }

    public let pattern: String
    let pieces: [Piece]

    public init(_ pattern: String) throws(Invalid) {
        self.pattern = pattern
        var chars = Array(pattern)[...]
        pieces = try Self.parse(&chars, inBraces: false)
        guard chars.isEmpty else { throw Invalid(description: "unbalanced '}' in \(pattern)") }
    }

    static func parse(_ c: inout ArraySlice<Character>, inBraces: Bool) throws(Invalid) -> [Piece] {
        var out: [Piece] = []
        while let ch = c.first {
            if inBraces && (ch == "," || ch == "}") { return out }
            c = c.dropFirst()
            switch ch {
            case "*": out.append(.any)
            case "?": out.append(.one)
            case "\\":
                guard let next = c.first else { throw Invalid(description: "pattern ends with \\") }
                c = c.dropFirst()
                out.append(.literal(next))
            case "[":
                var negated = false
                if c.first == "!" || c.first == "^" { negated = true; c = c.dropFirst() }
                var ranges: [ClosedRange<Character>] = []
                while let x = c.first, x != "]" {
                    c = c.dropFirst()
                    if c.first == "-", c.count >= 2, c[c.index(after: c.startIndex)] != "]" {
                        let hi = c[c.index(after: c.startIndex)]
                        guard x <= hi else { throw Invalid(description: "bad range \(x)-\(hi)") }
                        ranges.append(x...hi)
                        c = c.dropFirst(2)
                    } else {
                        ranges.append(x...x)
                    }
                }
                guard c.first == "]", !ranges.isEmpty else { throw Invalid(description: "unclosed or empty [ ]") }
                c = c.dropFirst()
                out.append(.set(ranges, negated: negated))
            case "{":
                var alternatives: [[Piece]] = []
                while true {
                    alternatives.append(try parse(&c, inBraces: true))
                    guard let sep = c.first else { throw Invalid(description: "unclosed {") }
                    c = c.dropFirst()
                    if sep == "}" { break }
                }
                out.append(.alternatives(alternatives))
            default: out.append(.literal(ch))
            }
        }
        if inBraces { throw Invalid(description: "unclosed {") }
        return out
    }

    public func matches(_ s: String) -> Bool { Self.match(pieces[...], Array(s)[...]) }

    static func match(_ p: ArraySlice<Piece>, _ s: ArraySlice<Character>) -> Bool {
        guard let first = p.first else { return s.isEmpty }
        let rest = p.dropFirst()
        switch first {
        case .literal(let ch): return s.first == ch && match(rest, s.dropFirst())
        case .one: return !s.isEmpty && match(rest, s.dropFirst())
        case .set(let ranges, let negated):
            guard let ch = s.first else { return false }
            return ranges.contains { $0.contains(ch) } != negated && match(rest, s.dropFirst())
        case .any:
            if rest.isEmpty { return true }
            var i = s.startIndex
            while true {
                if match(rest, s[i...]) { return true }
                if i == s.endIndex { return false }
                i = s.index(after: i)
            }
        case .alternatives(let alts):
            return alts.contains { match($0[...] + rest, s) }
        }
    }
}
