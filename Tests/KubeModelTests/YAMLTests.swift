import KubeModel
import Testing

@Suite("YAML")
struct YAMLTests {
    @Test("multi-document streams keep empty documents as null")
    func multiDocument() throws {
        let docs = try YAML.decodeAll("a: 1\n---\n# only a comment\n---\n- x\n- y\n")
        #expect(docs.count == 3)
        #expect(docs[0] == ["a": 1])
        #expect(docs[1] == .null)
        #expect(docs[2] == ["x", "y"])
    }

    @Test("scalars resolve like Kubernetes' YAML 1.1 reader")
    func scalarResolution() throws {
        let v = try YAML.decode("""
            t: yes
            f: off
            octal: 0777
            hex: 0x1F
            float: 1.5
            date: 2024-01-02
            quoted: "0777"
            null1: ~
            empty:
            version: 1.10
            name: on-call
            """)
        #expect(v["t"] == .bool(true))
        #expect(v["f"] == .bool(false))
        #expect(v["octal"] == .int(511))
        #expect(v["hex"] == .int(31))
        #expect(v["float"] == .double(1.5))
        #expect(v["date"] == .string("2024-01-02"), "timestamps stay strings")
        #expect(v["quoted"] == .string("0777"))
        #expect(v["null1"] == .null)
        #expect(v["empty"] == .null)
        #expect(v["version"] == .double(1.1))
        #expect(v["name"] == .string("on-call"))
    }

    @Test("anchors, aliases and merge keys")
    func anchors() throws {
        let v = try YAML.decode("""
            base: &b {a: 1, b: 2}
            copy: *b
            merged:
              <<: *b
              b: 3
            """)
        #expect(v["copy"] == ["a": 1, "b": 2])
        #expect(v["merged"] == ["a": 1, "b": 3], "explicit keys win over merged ones")
    }

    @Test("an alias bomb is refused instead of expanded")
    func aliasBomb() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1..<9 {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(throws: YAMLError.self) { try YAML.decode(text) }
    }

    @Test("deep nesting is refused")
    func deepNesting() {
        let text = String(repeating: "[", count: 2000) + String(repeating: "]", count: 2000)
        #expect(throws: YAMLError.self) { try YAML.decode(text) }
    }

    @Test("a syntax error names the line")
    func errorLine() {
        do {
            _ = try YAML.decodeAll("a: 1\nb: 2\nc: [unclosed\nd: 4\n")
            Issue.record("expected an error")
        } catch {
            #expect(error.line >= 3, "\(error)")
        }
    }
}
