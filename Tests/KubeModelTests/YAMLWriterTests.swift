import KubeModel
import Testing

@Suite("YAML writer")
struct YAMLWriterTests {
    @Test("what it writes reads back as the same value: literal blocks with each chomping, quoted reserved and odd keys, nested lists")
    func roundTrip() throws {
        let value: JSONValue = [
            "data": [
                "app.conf": "server {\n  listen 80;\n\n  root /srv;\n}\n",
                "no-newline": "a\nb",
                "kept": "x\ny\n\n\n",
                "leading-space": "  indented\nfirst",
                "crlf": "a\r\nb",
                "one": "line",
            ],
            "yes": true, "on": "off", "weird key": 1, "null": .null,
            "items": [["name": "a", "script": "echo 1\necho 2\n"], ["name": "b"]],
        ]
        let text = YAMLWriter.write(value)
        #expect(try YAML.decode(text) == value, "\(text)")
        #expect(text.contains("app.conf: |\n"))
        #expect(text.contains("no-newline: |-\n"))
        #expect(text.contains("kept: |+\n"))
        #expect(text.contains("\"yes\": true"))
        #expect(text.contains("leading-space: \"  indented\\nfirst\""), "a first line with a space stays JSON")
    }
}
