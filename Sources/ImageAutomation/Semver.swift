import Foundation

/// A semantic version as image tags carry them: an optional `v`, and, like the Masterminds
/// library Flux v1 used, a missing minor or patch read as 0 (`1.2` is 1.2.0).
public struct SemanticVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var major: Int
    public var minor: Int
    public var patch: Int
    public var prerelease: [String]
    public var original: String

    public init?(_ text: String) {
        var s = Substring(text)
        if s.first == "v" || s.first == "V" { s = s.dropFirst() }
        if let plus = s.firstIndex(of: "+") {
            let meta = s[s.index(after: plus)...]
            guard !meta.isEmpty, meta.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(Self.isIdentifier) else { return nil }
            s = s[..<plus]
        }
        var pre: [String] = []
        if let dash = s.firstIndex(of: "-") {
            let ids = s[s.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            guard !ids.isEmpty, ids.allSatisfy(Self.isIdentifier) else { return nil }
            pre = ids.map(String.init)
            s = s[..<dash]
        }
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var numbers: [Int] = []
        for p in parts {
            guard !p.isEmpty, p.count <= 18, p.allSatisfy(\.isASCIIDigit), let n = Int(p) else { return nil }
            numbers.append(n)
        }
        while numbers.count < 3 { numbers.append(0) }
        (major, minor, patch, prerelease, original) = (numbers[0], numbers[1], numbers[2], pre, text)
    }

    init(_ major: Int, _ minor: Int, _ patch: Int, prerelease: [String] = []) {
        (self.major, self.minor, self.patch, self.prerelease) = (major, minor, patch, prerelease)
        original = "\(major).\(minor).\(patch)" + (prerelease.isEmpty ? "" : "-" + prerelease.joined(separator: "."))
    }

    static func isIdentifier(_ s: Substring) -> Bool {
        !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }

    public var description: String { original }

    public static func == (a: SemanticVersion, b: SemanticVersion) -> Bool {
        a.major == b.major && a.minor == b.minor && a.patch == b.patch && a.prerelease == b.prerelease
    }

    public func hash(into h: inout Hasher) {
        h.combine(major); h.combine(minor); h.combine(patch); h.combine(prerelease)
    }

    /// Semver 2.0 precedence: a prerelease sorts before its release; identifiers compare
    /// numerically when both are numbers, numbers before words, then by length.
    public static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch) { return (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch) }
        if a.prerelease.isEmpty || b.prerelease.isEmpty { return !a.prerelease.isEmpty && b.prerelease.isEmpty }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (Int(x), Int(y)) {
            case let (i?, j?): return i < j
            case (_?, nil): return true
            case (nil, _?): return false
            default: return x < y
            }
        }
        return a.prerelease.count < b.prerelease.count
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}

/// A version constraint in the syntax of the Masterminds semver library (v3), which Flux v1's
/// `semver:` filters use: comparisons (`=`, `!=`, `>`, `>=`, `<`, `<=`), tilde (`~1.2`: patch
/// releases), caret (`^1.2`: minor releases), wildcards (`1.2.x`, `*`), hyphen ranges
/// (`1.2 - 1.4.5`), AND by comma or space, OR by `||`. A prerelease version satisfies a range only
/// when the range itself names a prerelease.
public struct SemverConstraint: Sendable, CustomStringConvertible {
    struct Bound: Sendable {
        enum Op: Sendable { case eq, ne, gt, ge, lt, le }
        var op: Op
        var version: SemanticVersion
    }
    /// OR of ANDs.
    let groups: [[Bound]]
    public let description: String

    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public init(_ text: String) throws(ParseError) {
        description = text
        var groups: [[Bound]] = []
        for group in text.components(separatedBy: "||") {
            // A hyphen range first (it has spaces of its own), then the rest split on commas/spaces.
            var tokens: [String] = []
            let words = group.replacingOccurrences(of: ",", with: " ").split(separator: " ").map(String.init)
            var i = 0
            var bounds: [Bound] = []
            while i < words.count {
                if i + 2 < words.count, words[i + 1] == "-" {
                    let (lo, hi) = (try Self.partial(words[i], in: text), try Self.partial(words[i + 2], in: text))
                    bounds.append(Bound(op: .ge, version: lo.floor))
                    bounds += hi.specified == 3 ? [Bound(op: .le, version: hi.floor)] : [Bound(op: .lt, version: hi.ceiling)]
                    i += 3
                    continue
                }
                // An operator written apart from its version (`>= 1.0`).
                if ["=", "!=", ">", ">=", "=>", "<", "<=", "=<", "~", "~>", "^"].contains(words[i]), i + 1 < words.count {
                    tokens.append(words[i] + words[i + 1])
                    i += 2
                    continue
                }
                tokens.append(words[i])
                i += 1
            }
            for token in tokens { bounds += try Self.bounds(token, in: text) }
            guard !bounds.isEmpty else { throw ParseError(description: "empty constraint in \"\(text)\"") }
            groups.append(bounds)
        }
        self.groups = groups
    }

    public func allows(_ v: SemanticVersion) -> Bool {
        groups.contains { bounds in
            if !v.prerelease.isEmpty, !bounds.contains(where: { !$0.version.prerelease.isEmpty }) { return false }
            return bounds.allSatisfy { b in
                switch b.op {
                case .eq: return v == b.version
                case .ne: return v != b.version
                case .gt: return v > b.version
                case .ge: return v >= b.version
                case .lt: return v < b.version
                case .le: return v <= b.version
                }
            }
        }
    }

    /// A version with some parts left out or wildcarded: `1`, `1.2`, `1.2.x`, `*`.
    struct Partial {
        var parts: [Int]
        var prerelease: [String]
        var specified: Int { parts.count }
        var floor: SemanticVersion { SemanticVersion(parts.count > 0 ? parts[0] : 0, parts.count > 1 ? parts[1] : 0, parts.count > 2 ? parts[2] : 0, prerelease: prerelease) }
        /// The first release past everything this partial names.
        var ceiling: SemanticVersion {
            switch parts.count {
            case 0: return SemanticVersion(Int.max / 2, 0, 0)
            case 1: return SemanticVersion(parts[0] + 1, 0, 0)
            case 2: return SemanticVersion(parts[0], parts[1] + 1, 0)
            default: return SemanticVersion(parts[0], parts[1], parts[2] + 1)
            }
        }
    }

    static func partial(_ raw: String, in text: String) throws(ParseError) -> Partial {
        var s = Substring(raw)
        if s.first == "v" || s.first == "V" { s = s.dropFirst() }
        var pre: [String] = []
        if let plus = s.firstIndex(of: "+") { s = s[..<plus] }
        if let dash = s.firstIndex(of: "-") {
            pre = s[s.index(after: dash)...].split(separator: ".").map(String.init)
            s = s[..<dash]
        }
        var parts: [Int] = []
        for p in s.split(separator: ".", omittingEmptySubsequences: false) {
            if p == "x" || p == "X" || p == "*" { break }
            guard !p.isEmpty, p.allSatisfy(\.isASCIIDigit), let n = Int(p) else {
                throw ParseError(description: "\"\(raw)\" is not a version in constraint \"\(text)\"")
            }
            parts.append(n)
        }
        guard parts.count <= 3 else { throw ParseError(description: "\"\(raw)\" has too many parts in constraint \"\(text)\"") }
        return Partial(parts: parts, prerelease: pre)
    }

    static func bounds(_ token: String, in text: String) throws(ParseError) -> [Bound] {
        let ops = ["!=", ">=", "=>", "<=", "=<", "~>", ">", "<", "=", "~", "^"]
        let op = ops.first { token.hasPrefix($0) } ?? ""
        let p = try partial(String(token.dropFirst(op.count)), in: text)
        let lo = p.floor
        switch op {
        case "", "=":
            return p.specified == 3 ? [Bound(op: .eq, version: lo)] : [Bound(op: .ge, version: lo), Bound(op: .lt, version: p.ceiling)]
        case "!=":
            guard p.specified == 3 else { throw ParseError(description: "\"\(token)\": != needs a full version in constraint \"\(text)\"") }
            return [Bound(op: .ne, version: lo)]
        case ">":
            return p.specified == 3 ? [Bound(op: .gt, version: lo)] : [Bound(op: .ge, version: p.ceiling)]
        case ">=", "=>":
            return [Bound(op: .ge, version: lo)]
        case "<":
            return [Bound(op: .lt, version: lo)]
        case "<=", "=<":
            return p.specified == 3 ? [Bound(op: .le, version: lo)] : [Bound(op: .lt, version: p.ceiling)]
        case "~", "~>":
            // ~1.2.3 and ~1.2: patch releases of 1.2; ~1: minor releases of 1.
            let upper = p.specified <= 1 ? SemanticVersion(lo.major + 1, 0, 0) : SemanticVersion(lo.major, lo.minor + 1, 0)
            return [Bound(op: .ge, version: lo), Bound(op: .lt, version: upper)]
        default:  // "^": changes that do not modify the left-most non-zero part
            let upper: SemanticVersion
            if lo.major > 0 || p.specified == 1 {
                upper = SemanticVersion(lo.major + 1, 0, 0)
            } else if lo.minor > 0 || p.specified == 2 {
                upper = SemanticVersion(0, lo.minor + 1, 0)
            } else {
                upper = SemanticVersion(0, 0, lo.patch + 1)
            }
            return [Bound(op: .ge, version: lo), Bound(op: .lt, version: upper)]
        }
    }
}
