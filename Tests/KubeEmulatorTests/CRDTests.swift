import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Custom resources")
struct CRDTests {
    static let crd: JSONValue = [
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": ["name": "gadgets.example.com"],
        "spec": ["group": "example.com", "scope": "Namespaced",
                 "names": ["kind": "Gadget", "plural": "gadgets", "singular": "gadget", "shortNames": ["gd"]],
                 "versions": [
                    ["name": "v1", "served": true, "storage": true, "subresources": ["status": .emptyObject],
                     "additionalPrinterColumns": [["name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"],
                                                  ["name": "Count", "type": "integer", "jsonPath": ".spec.count"]],
                     "schema": ["openAPIV3Schema": [
                        "type": "object",
                        "properties": [
                            "spec": ["type": "object", "required": ["url"],
                                     "properties": ["url": ["type": "string", "pattern": "^(ssh|https|file)://"],
                                                    "count": ["type": "integer", "minimum": 0, "maximum": 10],
                                                    "mode": ["type": "string", "enum": ["a", "b"]],
                                                    "interval": ["type": "string", "default": "5m"],
                                                    "paths": ["type": "array", "maxItems": 2, "items": ["type": "string"]],
                                                    "nested": ["type": "object", "properties": ["deep": ["type": "boolean"]]],
                                                    "free": ["type": "object", "x-kubernetes-preserve-unknown-fields": true]]],
                            "status": ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                        ]]]],
                    ["name": "v1beta1", "served": true, "storage": false,
                     "schema": ["openAPIV3Schema": ["type": "object", "x-kubernetes-preserve-unknown-fields": true]]],
                 ]],
    ]

    func setUp(_ h: Harness) async {
        await h.namespace("a")
        let r = await h.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", Self.crd)
        #expect(r.status == 201, "\(r.body)")
    }

    func gadget(_ name: String, _ spec: JSONValue) -> JSONValue {
        ["apiVersion": "example.com/v1", "kind": "Gadget", "metadata": ["name": .string(name)], "spec": spec]
    }

    @Test("a created CRD is established and served at once, in discovery too")
    func established() async {
        let h = Harness()
        await setUp(h)
        let crd = await h.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com")
        let conditions = crd.body["status"]?["conditions"]?.arrayValue ?? []
        #expect(conditions.contains { $0["type"] == "Established" && $0["status"] == "True" })
        #expect(conditions.contains { $0["type"] == "NamesAccepted" && $0["status"] == "True" })
        let discovery = await h.call("GET", "/apis/example.com/v1")
        #expect(discovery.body["resources"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["gadgets", "gadgets/status"])
        let group = await h.call("GET", "/apis/example.com")
        #expect(group.body["preferredVersion"]?["version"] == "v1")
    }

    @Test("schema violations are 422 with kube-apiserver's messages and field paths")
    func validation() async {
        let h = Harness()
        await setUp(h)
        let bad = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets",
                               gadget("bad", ["count": -1, "mode": "c", "paths": "notalist", "url": "ftp://x"]))
        #expect(bad.status == 422)
        let causes = bad.body["details"]?["causes"]?.arrayValue ?? []
        #expect(causes.compactMap { $0["field"]?.stringValue } == ["spec.mode", "spec.paths", "spec.url", "spec.count"])
        #expect(causes.first?["message"] == #"Unsupported value: "c": supported values: "a", "b""#)
        #expect(bad.message.hasPrefix(#"Gadget.example.com "bad" is invalid: [spec.mode: Unsupported value"#))
        let missing = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("bad2", .emptyObject))
        #expect(missing.message == #"Gadget.example.com "bad2" is invalid: spec.url: Required value"#)
        let tooMany = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("bad3", ["url": "file:///x", "paths": ["a", "b", "c"], "count": 11]))
        #expect(tooMany.body["details"]?["causes"]?.arrayValue?.compactMap { $0["reason"]?.stringValue }.sorted() == ["FieldValueInvalid", "FieldValueTooMany"])
    }

    @Test("a schema pattern is a search, checked the same on every write (compiled once); one that does not compile is not checked")
    func patterns() async {
        let h = Harness()
        await setUp(h)
        for round in 0..<3 {  // the first write compiles the pattern, the others reuse it
            let bad = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("bad\(round)", ["url": "ftp://x"]))
            #expect(bad.status == 422)
            #expect(bad.body["details"]?["causes"]?.arrayValue?.first?["message"] == #"Invalid value: "ftp://x": spec.url in body should match '^(ssh|https|file)://'"#)
            let good = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("good\(round)", ["url": "https://x"]))
            #expect(good.status == 201)
        }
        #expect(SchemaPatterns.matches("xx-ab-yy", pattern: "ab"), "unanchored, like Go's regexp.MatchString")
        #expect(!SchemaPatterns.matches("xx", pattern: "^ab$"))
        #expect(SchemaPatterns.matches("anything", pattern: "(unclosed"), "a pattern that does not compile checks nothing")
    }

    @Test("defaults are applied, unknown fields pruned, preserved subtrees kept")
    func defaultsAndPruning() async {
        let h = Harness()
        await setUp(h)
        let r = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets",
                             gadget("g1", ["url": "file:///y", "unknown": 1, "nested": ["deep": true, "extra": 2], "free": ["any": ["thing": 1]]]))
        #expect(r.status == 201)
        #expect(r.body["spec"] == ["url": "file:///y", "interval": "5m", "nested": ["deep": true], "free": ["any": ["thing": 1]]])
    }

    @Test("fieldValidation=Strict rejects unknown fields")
    func strict() async {
        let h = Harness()
        await setUp(h)
        let r = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets?fieldValidation=Strict", gadget("g1", ["url": "file:///y", "unknown": 1]))
        #expect(r.status == 400)
        #expect(r.message == #"Gadget in version "v1" cannot be handled as a Gadget: strict decoding error: unknown field "spec.unknown""#)
    }

    @Test("every served version reads the same object (identity conversion)")
    func versions() async {
        let h = Harness()
        await setUp(h)
        _ = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("g1", ["url": "file:///y"]))
        let beta = await h.call("GET", "/apis/example.com/v1beta1/namespaces/a/gadgets/g1")
        #expect(beta.status == 200)
        #expect(beta.body["apiVersion"] == "example.com/v1beta1")
        #expect(beta.body["spec"]?["url"] == "file:///y")
    }

    @Test("status writes go through /status only; printer columns render in Tables")
    func statusAndTable() async {
        let h = Harness()
        await setUp(h)
        _ = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("g1", ["url": "file:///y", "count": 3]))
        let ignored = await h.call("PATCH", "/apis/example.com/v1/namespaces/a/gadgets/g1", ["status": ["x": 1]], contentType: "application/merge-patch+json")
        #expect(ignored.body["status"] == nil)
        let status = await h.call("PATCH", "/apis/example.com/v1/namespaces/a/gadgets/g1/status",
                                  ["status": ["conditions": [["type": "Ready", "status": "True"]]]], contentType: "application/merge-patch+json")
        #expect(status.body["status"]?["conditions"]?.arrayValue?.count == 1)
        #expect(status.body["metadata"]?["generation"] == 1)
        let table = await h.call("GET", "/apis/example.com/v1/namespaces/a/gadgets", headers: ["Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"])
        #expect(table.body["columnDefinitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Name", "Ready", "Count"])
        #expect(table.body["rows"]?.arrayValue?.first?["cells"] == ["g1", "True", 3])
    }

    @Test("deleting a CRD deletes its objects and stops serving it")
    func deletion() async {
        let h = Harness()
        await setUp(h)
        _ = await h.call("POST", "/apis/example.com/v1/namespaces/a/gadgets", gadget("g1", ["url": "file:///y"]))
        let deleted = await h.call("DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com")
        #expect(deleted.body["metadata"]?["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"])
        h.server.reconcileOnce()
        #expect(await h.call("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/gadgets.example.com").status == 404)
        #expect(await h.call("GET", "/apis/example.com/v1/namespaces/a/gadgets").status == 404)
    }
}
