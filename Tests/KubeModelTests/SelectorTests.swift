import KubeModel
import Testing

@Suite("Label selectors and names")
struct SelectorTests {
    @Test("every operator parses and matches", arguments: [
        ("tier=web", ["tier": "web"], true),
        ("tier==web", ["tier": "api"], false),
        ("tier!=web", ["tier": "api"], true),
        ("tier!=web", [:], true),
        ("tier in (web,api)", ["tier": "api"], true),
        ("tier notin (web,api)", ["tier": "db"], true),
        ("tier notin (web,api)", ["tier": "web"], false),
        ("tier", ["tier": "x"], true),
        ("!tier", ["tier": "x"], false),
        ("!tier", [:], true),
        ("a=1,b in (2,3),!c", ["a": "1", "b": "3"], true),
        ("a=1,b in (2,3),!c", ["a": "1", "b": "3", "c": ""], false),
        ("", ["x": "y"], true),
    ])
    func matching(selector: String, labels: [String: String], expected: Bool) throws {
        #expect(try LabelSelector.parse(selector).matches(labels) == expected)
    }

    @Test("errors carry kube-apiserver's wording", arguments: [
        ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
        ("a=b,", "found '', expected: identifier after ','"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ])
    func errors(selector: String, message: String) {
        do {
            _ = try LabelSelector.parse(selector)
            Issue.record("expected an error for \(selector)")
        } catch {
            #expect(error.message == message)
        }
    }

    @Test("names are validated as RFC 1123 subdomains and labels")
    func names() {
        #expect(NameValidation.isDNSSubdomain("web.example-1"))
        #expect(!NameValidation.isDNSSubdomain("Bad_Name"))
        #expect(NameValidation.subdomainProblems("Bad_Name") == [NameValidation.subdomainMessage])
        #expect(NameValidation.isDNSLabel("team-a"))
        #expect(!NameValidation.isDNSLabel("team.a"))
        #expect(NameValidation.qualifiedNameProblem("example.com/tier") == nil)
        #expect(NameValidation.qualifiedNameProblem("-bad") != nil)
        #expect(NameValidation.labelValueProblem("") == nil)
        #expect(NameValidation.labelValueProblem(String(repeating: "a", count: 64)) == "must be no more than 63 characters")
    }
}
