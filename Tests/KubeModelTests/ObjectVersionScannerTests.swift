import KubeModel
import Testing

@Suite("Object version scanner")
struct ObjectVersionScannerTests {
    /// A `PartialObjectMetadataList` as kube-apiserver sends it, `managedFields` and all.
    static let list = #"""
    {"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1",
     "metadata":{"resourceVersion":"4711","continue":"eyJ2IjoibWV0YSJ9","remainingItemCount":3},
     "items":[
      {"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"web","namespace":"team-a",
        "uid":"6f1c-1","resourceVersion":"101","generation":2,"creationTimestamp":"2026-12-07T00:00:00Z",
        "labels":{"name":"not-this","flotilla.dev/instance":"team-a.apps"},
        "annotations":{"uid":"nor-this","note":"a \"quoted\" value with } and ] inside"},
        "managedFields":[{"manager":"flotilla","operation":"Apply","fieldsType":"FieldsV1",
          "fieldsV1":{"f:metadata":{"f:labels":{"f:name":{}}},"f:spec":{"f:replicas":{}}}}]}},
      {"metadata":{"resourceVersion":"102","uid":"6f1c-2","name":"cluster-wide","ownerReferences":[{"name":"x","uid":"y"}]}},
      {"metadata":{"na\u006de":"escaped-key","namespace":"team-b","resourceVersion":"103","uid":null}}
     ]}
    """#

    @Test("reads each item's namespace, name, uid and resourceVersion, and the list's, past everything else")
    func reads() throws {
        let page = try ObjectVersionScanner.scan(Array(Self.list.utf8))
        #expect(page.resourceVersion == "4711")
        #expect(page.continueToken == "eyJ2IjoibWV0YSJ9")
        #expect(page.items == [
            ObjectVersion(namespace: "team-a", name: "web", uid: "6f1c-1", resourceVersion: "101"),
            ObjectVersion(namespace: nil, name: "cluster-wide", uid: "6f1c-2", resourceVersion: "102"),
            ObjectVersion(namespace: "team-b", name: "escaped-key", uid: nil, resourceVersion: "103"),
        ])
    }

    @Test("agrees with the full parser on lists of every shape")
    func agreesWithTheParser() throws {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var items: [JSONValue] = []
            for i in 0..<Int.random(in: 0...6, using: &generator) {
                var metadata: [String: JSONValue] = ["name": .string("o\(round)-\(i)"), "resourceVersion": .string("\(i * 7)")]
                if Bool.random(using: &generator) { metadata["namespace"] = .string("ns\(i % 3)") }
                if Bool.random(using: &generator) { metadata["uid"] = .string("u-\(round)-\(i)") }
                if Bool.random(using: &generator) { metadata["labels"] = ["name": "x", "uid": .array([1, "2", ["resourceVersion": "9"]])] }
                if Bool.random(using: &generator) { metadata["managedFields"] = .array([["fieldsV1": ["f:data": ["f:\"k\\\"": [:]]]]]) }
                var item: JSONValue = ["metadata": .object(metadata)]
                if Bool.random(using: &generator) { item["spec"] = ["metadata": ["name": "inner"], "items": [1, 2.5, true, .null]] }
                items.append(item)
            }
            var list: JSONValue = ["kind": "List", "items": .array(items), "metadata": ["resourceVersion": .string("\(round)")]]
            if round % 3 == 0 { list["metadata"]?["continue"] = .string("token\(round)") }
            let bytes = Array(list.jsonBytes())
            let page = try ObjectVersionScanner.scan(bytes)
            let parsed = try JSONValue.parse(bytes)
            let expected = (parsed["items"]?.arrayValue ?? []).map { item in
                let m = item["metadata"]
                return ObjectVersion(namespace: m?["namespace"]?.stringValue, name: m?["name"]?.stringValue ?? "",
                                     uid: m?["uid"]?.stringValue, resourceVersion: m?["resourceVersion"]?.stringValue ?? "")
            }
            #expect(page.items == expected)
            #expect(page.resourceVersion == parsed["metadata"]?["resourceVersion"]?.stringValue)
            #expect(page.continueToken == parsed["metadata"]?["continue"]?.stringValue)
        }
    }

    @Test("malformed or cut-off input is an error, never a crash or a partial answer")
    func malformed() throws {
        let whole = Array(Self.list.utf8)
        // Every prefix of a valid list is invalid JSON.
        for cut in stride(from: 0, to: whole.count, by: 7) {
            #expect(throws: JSONParseError.self) { try ObjectVersionScanner.scan(whole[0..<cut]) }
        }
        for bad in [#"[]"#, #"{"items":[1]}"#, #"{"items":[{"metadata":{"name":"a"}}]} x"#, #"{"items":[{"metadata":{"name":"a",}}]}"#, #"{"metadata" 1}"#] {
            #expect(throws: JSONParseError.self, "\(bad)") { try ObjectVersionScanner.scan(Array(bad.utf8)) }
        }
        #expect(try ObjectVersionScanner.scan(Array(#"{"items":null,"metadata":{}}"#.utf8)) == ObjectVersionPage())
    }
}
