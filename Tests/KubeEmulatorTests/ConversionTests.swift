import KubeModel
import Testing

@testable import KubeEmulator

@Suite("Conversions and decode errors")
struct ConversionTests {
    @Test("Go's encoding/json messages for the first syntax error, nil for valid JSON", arguments: [
        (#"{"kind":"#, "unexpected end of JSON input"),
        ("", "unexpected end of JSON input"),
        ("{bad", "invalid character 'b' looking for beginning of object key string"),
        ("not json", "invalid character 'o' in literal null (expecting 'u')"),
        (#"{"kind":"ConfigMap"}}"#, "invalid character '}' after top-level value"),
        (#"{"a" 1}"#, "invalid character '1' after object key"),
        (#"{"a":1 "b":2}"#, "invalid character '\"' after object key:value pair"),
        ("[1 2]", "invalid character '2' after array element"),
        ("[1,]", "invalid character ']' looking for beginning of value"),
        ("-x", "invalid character 'x' in numeric literal"),
        ("1.e", "invalid character 'e' after decimal point in numeric literal"),
        (#"{"a":"\q"}"#, "invalid character 'q' in string escape code"),
        ("tru", "unexpected end of JSON input"),
        ("{\"a\":\"\n\"}", #"invalid character '\n' in string literal"#),
    ])
    func goJSONErrors(input: String, message: String) {
        #expect(GoJSONSyntax.error(in: Array(input.utf8)) == message)
    }

    @Test("valid documents have no error", arguments: [#"{"a":[1,-2.5e3,true,null,"x\u00e9"]}"#, " [] ", "0", #""s""#])
    func validJSON(input: String) {
        #expect(GoJSONSyntax.error(in: Array(input.utf8)) == nil)
    }

    @Test("a core Event read at events.k8s.io/v1 and back keeps what both versions have")
    func events() throws {
        let core = try JSONValue.parse(#"""
        {"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"n"},"involvedObject":{"kind":"Pod","name":"p"},
         "message":"hello","reason":"Started","type":"Normal","count":3,"source":{"component":"kubelet"},
         "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-02T00:00:00Z","reportingComponent":"","reportingInstance":""}
        """#)
        let newer = VersionConversion.convert(core, to: "events.k8s.io/v1")
        #expect(newer["apiVersion"] == "events.k8s.io/v1")
        #expect(newer["note"] == "hello")
        #expect(newer["regarding"]?["name"] == "p")
        #expect(newer["deprecatedCount"] == 3)
        #expect(newer["deprecatedSource"]?["component"] == "kubelet")
        #expect(newer["eventTime"] == .null)
        #expect(newer["message"] == nil && newer["involvedObject"] == nil)
        #expect(newer["reportingController"] == nil)  // empty: omitted, as Go's omitempty
        var expected = core
        expected["eventTime"] = .null  // always written by core/v1's Go type
        #expect(VersionConversion.convert(newer, to: "v1") == expected)
    }

    @Test("autoscaling/v1's CPU target is autoscaling/v2's cpu Utilization metric")
    func autoscalers() throws {
        let v1 = try JSONValue.parse(#"""
        {"apiVersion":"autoscaling/v1","kind":"HorizontalPodAutoscaler","metadata":{"name":"h"},
         "spec":{"scaleTargetRef":{"kind":"Deployment","name":"d"},"maxReplicas":5,"targetCPUUtilizationPercentage":60},
         "status":{"currentReplicas":2,"desiredReplicas":3,"currentCPUUtilizationPercentage":40}}
        """#)
        let v2 = VersionConversion.convert(v1, to: "autoscaling/v2")
        #expect(v2["spec"]?["metrics"]?.arrayValue?.first?["resource"]?["target"]?["averageUtilization"] == 60)
        #expect(v2["status"]?["currentMetrics"]?.arrayValue?.first?["resource"]?["current"]?["averageUtilization"] == 40)
        #expect(v2["spec"]?["targetCPUUtilizationPercentage"] == nil)
        #expect(VersionConversion.convert(v2, to: "autoscaling/v1") == v1)
    }

    @Test("a version without a conversion only changes apiVersion")
    func sameShape() throws {
        let fs = try JSONValue.parse(#"{"apiVersion":"flowcontrol.apiserver.k8s.io/v1beta3","kind":"FlowSchema","spec":{"matchingPrecedence":500}}"#)
        let v1 = VersionConversion.convert(fs, to: "flowcontrol.apiserver.k8s.io/v1")
        #expect(v1["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1")
        #expect(v1["spec"] == fs["spec"])
    }
}
