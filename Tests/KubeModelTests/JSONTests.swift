import Foundation
import KubeModel
import Testing

@Suite("JSON")
struct JSONTests {
    @Test("parse and write round-trip objects, arrays, escapes and numbers")
    func roundTrip() throws {
        let text = #"{"a":[1,-2,3.5,true,false,null],"b":{"c":"line\nbreak \"quoted\" tab\t \u00e9 \ud83d\ude00"},"e":1e3}"#
        let value = try JSONValue.parse(text)
        #expect(value["a"]?.arrayValue?.count == 6)
        #expect(value["a"]?.arrayValue?[0] == .int(1))
        #expect(value["a"]?.arrayValue?[2] == .double(3.5))
        #expect(value["b"]?["c"]?.stringValue == "line\nbreak \"quoted\" tab\t é 😀")
        #expect(value["e"]?.intValue == 1000)
        let again = try JSONValue.parse(value.jsonBytes())
        #expect(again.semanticallyEquals(value), "1e3 comes back as the integer 1000")
        #expect(JSONValue.object(["z": 1, "a": 2]).jsonString() == #"{"a":2,"z":1}"#, "keys are written sorted")
    }

    @Test("control characters are escaped when written")
    func controlCharacters() throws {
        let s = JSONValue.string("\u{01}x\r")
        #expect(s.jsonString() == #""\u0001x\r""#)
        #expect(try JSONValue.parse(s.jsonString()) == s)
    }

    @Test("malformed JSON reports the offset", arguments: [
        ("{\"a\":}", 5), ("[1,2", 4), ("{\"a\" 1}", 5), ("tru", 0), ("\"open", 5), ("{} x", 3),
    ])
    func malformed(text: String, offset: Int) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        do {
            _ = try JSONValue.parse(text)
        } catch {
            #expect(error.offset == offset, "\(error)")
        }
    }

    @Test("a skipped member is left out at every depth, whatever its value holds")
    func skipping() throws {
        let text = #"{"items":[{"metadata":{"name":"a","managedFields":[{"f:data":{"f:x]":{}},"m":"q\"}]{"}],"uid":"1"}},"#
            + #"{"metadata":{"managedFields":null,"name":"b"}},{"metadata":{"name":"c","managedFields":-1.5e3}}],"managedFields":"top"}"#
        let value = try JSONValue.parse(Array(text.utf8), skipping: "managedFields")
        let items = try #require(value["items"]?.arrayValue)
        #expect(items.map { $0["metadata"]?["name"]?.stringValue } == ["a", "b", "c"])
        #expect(items[0]["metadata"]?["uid"] == "1", "members after a skipped one are read")
        #expect(items.allSatisfy { $0["metadata"]?["managedFields"] == nil } && value["managedFields"] == nil)
        // Everything else is as a full parse gives it.
        func strip(_ v: JSONValue) -> JSONValue {
            switch v {
            case .object(let o): return .object(o.filter { $0.key != "managedFields" }.mapValues(strip))
            case .array(let a): return .array(a.map(strip))
            default: return v
            }
        }
        #expect(strip(try JSONValue.parse(text)) == value)
    }

    @Test("keeping some names builds only those members, at every depth")
    func keeping() throws {
        let text = #"{"kind":"List","metadata":{"resourceVersion":"9","continue":""},"items":[{"metadata":{"name":"a","labels":{"name":"x"},"#
            + #""managedFields":[{"name":"m"}],"uid":"u1","resourceVersion":"5"},"spec":{"name":"s"}}]}"#
        let value = try JSONValue.parse(Array(text.utf8), keeping: ["items", "metadata", "name", "uid", "resourceVersion", "continue"])
        #expect(value == ["metadata": ["resourceVersion": "9", "continue": ""], "items": [["metadata": ["name": "a", "uid": "u1", "resourceVersion": "5"]]]])
    }

    @Test("a skipped member must still be a value", arguments: [
        #"{"managedFields":,"a":1}"#, #"{"managedFields":[1,2}"#, #"{"managedFields":"open}"#, #"{"managedFields":]}"#, #"{"managedFields":"#,
    ])
    func skippingMalformed(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(Array(text.utf8), skipping: "managedFields") }
    }

    @Test("Kubernetes time stamps: RFC 3339 in UTC, whole seconds, read back")
    func kubeTime() throws {
        let date = Date(timeIntervalSince1970: 1_796_553_600.75)
        #expect(KubeTime.string(date) == "2026-12-06T10:40:00Z")
        #expect(KubeTime.date("2026-12-06T10:40:00Z") == Date(timeIntervalSince1970: 1_796_553_600))
        #expect(KubeTime.date("yesterday") == nil)
    }

    @Test("1 and 1.0 are semantically equal, but not equal as values")
    func semanticEquality() {
        #expect(JSONValue.int(1).semanticallyEquals(.double(1.0)))
        #expect(JSONValue.int(1) != .double(1.0))
        #expect(!JSONValue.object(["a": 1]).semanticallyEquals(["a": 2]))
    }

    @Test("set(path:) creates and removes nested members")
    func setPath() {
        var v: JSONValue = .emptyObject
        v.set(path: ["metadata", "labels", "app"], to: "web")
        #expect(v["metadata"]?["labels"]?["app"] == "web")
        v.set(path: ["metadata", "labels", "app"], to: nil)
        #expect(v["metadata"]?["labels"]?.objectValue?.isEmpty == true)
        v.set(path: ["missing", "deep"], to: nil)
        #expect(v["missing"] == nil, "removing under a missing parent creates nothing")
    }
}
