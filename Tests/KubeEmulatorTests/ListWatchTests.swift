import KubeModel
import Testing

@testable import KubeEmulator

@Suite("List and watch")
struct ListWatchTests {
    @Test("label and field selectors filter lists; a bad selector is 400")
    func selectors() async {
        let h = Harness()
        await h.namespace("a")
        _ = await h.configMap("a", "web", labels: ["tier": "web"])
        _ = await h.configMap("a", "api", labels: ["tier": "api"])
        _ = await h.configMap("a", "plain")
        func names(_ query: String) async -> [String] {
            let r = await h.call("GET", "/api/v1/namespaces/a/configmaps?\(query)")
            return r.body["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } ?? []
        }
        #expect(await names("labelSelector=tier%3Dweb") == ["web"])
        #expect(await names("labelSelector=tier%20in%20(web,api)") == ["api", "web"])
        #expect(await names("labelSelector=!tier") == ["kube-root-ca.crt", "plain"])
        #expect(await names("fieldSelector=metadata.name%3Dapi") == ["api"])
        let bad = await h.call("GET", "/api/v1/namespaces/a/configmaps?labelSelector=a%20in%20(b")
        #expect(bad.status == 400)
        #expect(bad.message == "unable to parse requirement: found '', expected: ',' or ')'")
        let badField = await h.call("GET", "/api/v1/namespaces/a/configmaps?fieldSelector=spec.x%3D1")
        #expect(badField.message == #""spec.x" is not a known field selector: only "metadata.name", "metadata.namespace""#)
        let badPodField = await h.call("GET", "/api/v1/namespaces/a/pods?fieldSelector=spec.x%3D1")
        #expect(badPodField.message == "field label not supported: spec.x")
        let noOperator = await h.call("GET", "/api/v1/namespaces/a/pods?fieldSelector=a")
        #expect(noOperator.message == "invalid selector: 'a'; can't understand 'a'")
    }

    @Test("a list across namespaces is in etcd's key order (namespace/name), a namespace's list holds only its own")
    func order() async {
        let h = Harness()
        for ns in ["ab", "a-b", "a"] { await h.namespace(ns) }
        for (ns, name) in [("ab", "x"), ("a", "z"), ("a-b", "y"), ("a", "b-c"), ("a", "b")] { _ = await h.configMap(ns, name) }
        func keys(_ path: String) async -> [String] {
            let r = await h.call("GET", path)
            return r.body["items"]?.arrayValue?.compactMap { item in
                guard let name = item["metadata"]?["name"]?.stringValue, name != "kube-root-ca.crt" else { return nil }
                return "\(item["metadata"]?["namespace"]?.stringValue ?? "")/\(name)"
            } ?? []
        }
        // "a-b/" sorts before "a/" ('-' < '/'), and "b-c" before "b": byte order of the whole key.
        #expect(await keys("/api/v1/configmaps") == ["a-b/y", "a/b", "a/b-c", "a/z", "ab/x"])
        #expect(await keys("/api/v1/namespaces/a/configmaps") == ["a/b", "a/b-c", "a/z"])
        #expect(await keys("/api/v1/namespaces/none/configmaps") == [])
        // A deleted object leaves its namespace's list; the last one leaves nothing behind.
        _ = await h.call("DELETE", "/api/v1/namespaces/ab/configmaps/x")
        #expect(await keys("/api/v1/configmaps") == ["a-b/y", "a/b", "a/b-c", "a/z"])
    }

    @Test("limit and continue page through a list without losing or repeating items")
    func paging() async {
        let h = Harness()
        await h.namespace("p")
        for i in 0..<7 { _ = await h.configMap("p", "c\(i)") }
        var seen: [String] = []
        var token = ""
        var pages = 0
        repeat {
            let r = await h.call("GET", "/api/v1/namespaces/p/configmaps?limit=3" + (token.isEmpty ? "" : "&continue=\(token)"))
            seen += r.body["items"]?.arrayValue?.compactMap { $0["metadata"]?["name"]?.stringValue } ?? []
            token = r.body["metadata"]?["continue"]?.stringValue?.addingPercentEncodingForQuery ?? ""
            pages += 1
        } while !token.isEmpty && pages < 10
        #expect(pages == 3)
        #expect(seen == ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "kube-root-ca.crt"])
    }

    @Test("a watch from a list's resourceVersion sees exactly the later changes, with selector transitions")
    func watchFromResourceVersion() async {
        let h = Harness()
        await h.namespace("w")
        let list = await h.call("GET", "/api/v1/namespaces/w/configmaps?labelSelector=w%3D1")
        let rv = list.body["metadata"]?["resourceVersion"]?.stringValue ?? ""
        _ = await h.configMap("w", "w1", labels: ["w": "1"])
        _ = await h.configMap("w", "other")
        _ = await h.call("PATCH", "/api/v1/namespaces/w/configmaps/w1", ["data": ["k": "v"]], contentType: "application/merge-patch+json")
        _ = await h.call("PATCH", "/api/v1/namespaces/w/configmaps/w1", ["metadata": ["labels": ["w": "2"]]], contentType: "application/merge-patch+json")
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&labelSelector=w%3D1&resourceVersion=\(rv)&timeoutSeconds=5")
        let events = await watch.take(3)
        #expect(events.map(\.type) == ["ADDED", "MODIFIED", "DELETED"])
        #expect(events.allSatisfy { $0.objectName == "w1" })
        #expect(events[2]["object"]?["metadata"]?["labels"] == ["w": "1"], "leaving the selector shows the last matching state")
    }

    @Test("watch with resourceVersion 0 starts with the current objects, then streams")
    func watchInitial() async {
        let h = Harness()
        await h.namespace("w")
        _ = await h.configMap("w", "one")
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=0&fieldSelector=metadata.name%3Done&timeoutSeconds=5")
        let first = await watch.take(1)
        #expect(first.map(\.type) == ["ADDED"])
        _ = await h.call("DELETE", "/api/v1/namespaces/w/configmaps/one")
        let second = await watch.take(1)
        #expect(second.map(\.type) == ["DELETED"])
    }

    @Test("a watch from a compacted resourceVersion gets a 410 Expired ERROR event")
    func expired() async {
        let h = Harness(watchWindow: 5)
        await h.namespace("w")
        let start = h.server.currentResourceVersion
        for i in 0..<10 { _ = await h.configMap("w", "c\(i)") }
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=\(start)")
        #expect(watch.status == 200)
        let events = await watch.take(1)
        #expect(events.first?.type == "ERROR")
        #expect(events.first?["object"]?["code"] == 410)
        #expect(events.first?["object"]?["reason"] == "Expired")
        #expect(await watch.next() == nil, "the stream ends after the error")
    }

    @Test("forced compaction makes the next watch from an old resourceVersion expire")
    func forcedCompaction() async {
        let h = Harness()
        await h.namespace("w")
        let rv = h.server.currentResourceVersion
        _ = await h.configMap("w", "c1")
        h.server.forceCompaction()
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=\(rv)")
        #expect(await watch.take(1).first?["object"]?["code"] == 410)
    }

    @Test("timeoutSeconds ends a watch with a bookmark when bookmarks are allowed")
    func timeoutAndBookmark() async {
        let h = Harness()
        await h.namespace("w")
        let rv = h.server.currentResourceVersion
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&resourceVersion=\(rv)&timeoutSeconds=1&allowWatchBookmarks=true")
        let events = await watch.take(1)
        #expect(events.first?.type == "BOOKMARK")
        #expect(events.first?["object"]?["metadata"]?["resourceVersion"] != nil)
        #expect(await watch.next() == nil)
        #expect(h.server.openWatches == 0, "a finished watch is unregistered")
    }

    @Test("sendInitialEvents ends the initial state with an annotated bookmark")
    func watchList() async {
        let h = Harness()
        await h.namespace("w")
        _ = await h.configMap("w", "one")
        let watch = await h.watch("/api/v1/namespaces/w/configmaps?watch=true&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&fieldSelector=metadata.name%3Done&timeoutSeconds=5")
        let events = await watch.take(2)
        #expect(events.map(\.type) == ["ADDED", "BOOKMARK"])
        #expect(events[1]["object"]?["metadata"]?["annotations"]?["k8s.io/initial-events-end"] == "true")
    }

    @Test("Table output renders built-in columns")
    func table() async {
        let h = Harness()
        await h.namespace("t")
        _ = await h.configMap("t", "c1", data: ["a": "1", "b": "2"])
        let r = await h.call("GET", "/api/v1/namespaces/t/configmaps/c1", headers: ["Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"])
        #expect(r.body["kind"] == "Table")
        #expect(r.body["columnDefinitions"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["Name", "Data", "Age"])
        #expect(r.body["rows"]?.arrayValue?.first?["cells"]?.arrayValue?.prefix(2) == ["c1", 2])
        #expect(r.body["rows"]?.arrayValue?.first?["object"]?["kind"] == "PartialObjectMetadata")
    }
}

extension String {
    var addingPercentEncodingForQuery: String {
        var out = ""
        for b in utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                out.append(Character(Unicode.Scalar(b)))
            default:
                out += "%" + String(b, radix: 16, uppercase: true).leftPadded
            }
        }
        return out
    }

    var leftPadded: String { count == 1 ? "0" + self : self }
}
