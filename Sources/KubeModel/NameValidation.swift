/// Kubernetes name validation with the API server's own wording.
public enum NameValidation {
    public static let subdomainMessage =
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    public static let labelMessage =
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let qualifiedNameMessage =
        "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
    static let labelValueMessage =
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"

    static func isLowerAlnum(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))
    }

    static func isAlnum(_ c: UInt8) -> Bool {
        isLowerAlnum(c) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }

    public static func isDNSLabel(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, let last = b.last, b.count <= 63 else { return false }
        return isLowerAlnum(first) && isLowerAlnum(last) && b.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
    }

    public static func isDNSSubdomain(_ s: String) -> Bool {
        s.utf8.count <= 253 && hasSubdomainShape(s)
    }

    static func hasSubdomainShape(_ s: String) -> Bool {
        guard !s.isEmpty else { return false }
        return s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
            let b = Array(part.utf8)
            guard let first = b.first, let last = b.last else { return false }
            return isLowerAlnum(first) && isLowerAlnum(last) && b.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    /// Problems with a DNS-1123 subdomain name; empty when valid.
    public static func subdomainProblems(_ s: String) -> [String] {
        var problems: [String] = []
        if s.utf8.count > 253 { problems.append("must be no more than 253 characters") }
        if !hasSubdomainShape(s) { problems.append(subdomainMessage) }
        return problems
    }

    public static func labelProblems(_ s: String) -> [String] {
        var problems: [String] = []
        if s.utf8.count > 63 { problems.append("must be no more than 63 characters") }
        let b = Array(s.utf8)
        let shapeOK = !b.isEmpty && isLowerAlnum(b.first!) && isLowerAlnum(b.last!) && b.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
        if !shapeOK { problems.append(labelMessage) }
        return problems
    }

    /// Path segment names (RBAC objects): anything but `.`, `..`, `/` and `%`.
    public static func pathSegmentProblems(_ s: String) -> [String] {
        if s == "." || s == ".." { return ["may not be '\(s)'"] }
        if s.contains("/") { return ["may not contain '/'"] }
        if s.contains("%") { return ["may not contain '%'"] }
        return []
    }

    static func isQualifiedNamePart(_ s: Substring) -> Bool {
        let b = Array(s.utf8)
        guard let first = b.first, let last = b.last, b.count <= 63 else { return false }
        return isAlnum(first) && isAlnum(last)
            && b.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// Problems with a label/annotation key (`prefix/name`), or `nil` when valid.
    public static func qualifiedNameProblem(_ key: String) -> String? {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            if parts[0].isEmpty { return "name part must be non-empty" }
            if parts[0].utf8.count > 63 { return "name part must be no more than 63 characters" }
            return isQualifiedNamePart(parts[0]) ? nil : qualifiedNameMessage
        case 2:
            if parts[0].isEmpty { return "prefix part must be non-empty" }
            if !isDNSSubdomain(String(parts[0])) { return "prefix part " + subdomainMessage }
            if parts[1].isEmpty { return "name part must be non-empty" }
            if parts[1].utf8.count > 63 { return "name part must be no more than 63 characters" }
            return isQualifiedNamePart(parts[1]) ? nil : qualifiedNameMessage
        default:
            return "a qualified name " + qualifiedNameMessage.dropFirst("name part ".count)
        }
    }

    public static func labelValueProblem(_ value: String) -> String? {
        if value.isEmpty { return nil }
        if value.utf8.count > 63 { return "must be no more than 63 characters" }
        return isQualifiedNamePart(Substring(value)) ? nil : labelValueMessage
    }
}
