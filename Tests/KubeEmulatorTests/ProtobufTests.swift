import Foundation
import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Protobuf request bodies")
struct ProtobufTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/protobuf")

    static var names: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? [])
            .filter { $0.hasSuffix(".pb") }.map { String($0.dropLast(3)) }.sorted()
    }

    @Test("fixtures exist")
    func fixturesExist() {
        #expect(Self.names.count >= 7)
    }

    @Test("each captured kubectl body decodes to the JSON kubectl would have sent", arguments: names)
    func decode(name: String) throws {
        let pb = try Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).pb"))
        let expected = try JSONValue.parse(Array(try Data(contentsOf: Self.fixtures.appendingPathComponent("\(name).json"))))
        let decoded = try KubeProtobuf.decode(Array(pb))
        #expect(decoded.semanticallyEquals(expected), "\(name): \(decoded.jsonString())")
    }

    @Test("a protobuf create is stored like the JSON one")
    func createFromProtobuf() async throws {
        let h = Harness()
        await h.namespace("team-a")
        let pb = try Data(contentsOf: Self.fixtures.appendingPathComponent("configmap.pb"))
        let response = await h.server.handle(APIRequest(method: "POST", target: "/api/v1/namespaces/team-a/configmaps",
                                                        headers: ["Authorization": "Bearer \(h.server.token(for: "admin")!)",
                                                                  "Content-Type": "application/vnd.kubernetes.protobuf"],
                                                        body: Array(pb)))
        #expect(response.status == 201)
        #expect(response.json?["data"]?["a"] == "1")
    }

    @Test("garbage with the protobuf magic is a clear 415")
    func garbage() async {
        let h = Harness()
        let response = await h.server.handle(APIRequest(method: "POST", target: "/api/v1/namespaces",
                                                        headers: ["Authorization": "Bearer \(h.server.token(for: "admin")!)"],
                                                        body: [0x6b, 0x38, 0x73, 0x00, 0xff, 0xff]))
        #expect(response.status == 415)
    }
}
