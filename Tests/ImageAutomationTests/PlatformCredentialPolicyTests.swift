import Foundation
@testable import ImageAutomation
import Testing

/// What a cloud registry is, who may use the platform's logins, how long one serves, and the
/// SigV4 signature: all without I/O.
@Suite("Platform credentials: decisions")
struct PlatformCredentialPolicyTests {
    @Test("hosts are recognised by name: ECR (with .cn and FIPS), gcr.io and Artifact Registry, ACR; anything else is not a cloud registry")
    func classify() {
        #expect(CloudRegistry.classify("123456789012.dkr.ecr.eu-west-1.amazonaws.com") == .ecr(account: "123456789012", region: "eu-west-1", host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com"))
        #expect(CloudRegistry.classify("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn")?.tokenKey == "aws/123456789012/cn-north-1")
        #expect(CloudRegistry.classify("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com")?.provider == .aws)
        #expect(CloudRegistry.classify("12345.dkr.ecr.eu-west-1.amazonaws.com") == nil, "an account id has 12 digits")
        #expect(CloudRegistry.classify("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.example") == nil)
        #expect(CloudRegistry.classify("gcr.io") == .google(host: "gcr.io"))
        #expect(CloudRegistry.classify("eu.gcr.io")?.provider == .gcp)
        #expect(CloudRegistry.classify("europe-west1-docker.pkg.dev")?.tokenKey == "gcp")
        #expect(CloudRegistry.classify("pkg.dev") == nil)
        #expect(CloudRegistry.classify("team.azurecr.io") == .azure(host: "team.azurecr.io"))
        #expect(CloudRegistry.classify("team.azurecr.io.evil.example") == nil)
        for other in ["docker.io", "ghcr.io", "quay.io", "127.0.0.1:5000", "registry.example.com"] {
            #expect(CloudRegistry.classify(other) == nil, "\(other)")
        }
    }

    @Test("off by default; a provider is used only where the install lends it, and a refusal says which flag decides")
    func policy() throws {
        let ecr = try #require(CloudRegistry.classify("123456789012.dkr.ecr.eu-west-1.amazonaws.com"))
        let off = PlatformCredentialPolicy()
        #expect(off.refusal(ecr, namespace: "team-a")?.contains("--registry-platform-credentials=aws is off") == true)
        let some = PlatformCredentialPolicy(providers: [.aws], namespaces: ["team-a"])
        #expect(some.refusal(ecr, namespace: "team-a") == nil)
        #expect(some.refusal(ecr, namespace: "team-b")?.contains("namespace team-b") == true)
        #expect(some.refusal(.google(host: "gcr.io"), namespace: "team-a")?.contains("gcp") == true, "only the providers turned on")
        #expect(PlatformCredentialPolicy(providers: [.aws], namespaces: ["*"]).refusal(ecr, namespace: "anyone") == nil)
        #expect(PlatformCredentialPolicy(providers: [.aws], namespaces: []).refusal(ecr, namespace: "team-a") != nil, "no namespaces: nobody")
    }

    @Test("a login serves until five minutes before it expires (half its life when shorter); none when already expired")
    func refresh() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(PlatformCredentials.refreshAfter(now.addingTimeInterval(12 * 3600), now: now) == now.addingTimeInterval(12 * 3600 - 300))
        #expect(PlatformCredentials.refreshAfter(now.addingTimeInterval(120), now: now) == now.addingTimeInterval(60))
        #expect(PlatformCredentials.refreshAfter(now.addingTimeInterval(-10), now: now) == now)
        #expect(PlatformCredentials.refreshAfter(nil, now: now) == now.addingTimeInterval(600))
    }

    static let signer = SigV4(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: nil, region: "us-east-1", service: "iam")
    static let date = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z

    @Test("SigV4: AWS's documented examples, and an ECR call with a session token as botocore signs it")
    func sigV4() throws {
        // The IAM ListUsers example of AWS's "Create a signed AWS API request".
        let iam = Self.signer.sign(method: "GET", url: try #require(URL(string: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08")),
                                   headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8", "Host": "iam.amazonaws.com"], body: [], date: Self.date)
        #expect(iam["x-amz-date"] == "20150830T123600Z")
        #expect(iam["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
        // get-vanilla of the SigV4 test suite.
        var vanilla = Self.signer
        vanilla.service = "service"
        let v = vanilla.sign(method: "GET", url: try #require(URL(string: "https://example.amazonaws.com/")), headers: ["Host": "example.amazonaws.com"], body: [], date: Self.date)
        #expect(v["authorization"]?.hasSuffix("Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31") == true)
        // botocore 1.x's SigV4Auth on the request ECRTokenSource sends (an independent implementation).
        var ecr = Self.signer
        ecr.service = "ecr"
        ecr.sessionToken = "SESSION"
        let e = ecr.sign(method: "POST", url: try #require(URL(string: "http://127.0.0.1:5000/")),
                         headers: ["content-type": "application/x-amz-json-1.1", "x-amz-target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", "host": "127.0.0.1:5000"],
                         body: Array(#"{"registryIds":["123456789012"]}"#.utf8), date: Self.date)
        #expect(e["x-amz-security-token"] == "SESSION")
        #expect(e["authorization"] == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token;x-amz-target, Signature=bc10b37f285740e9106425ecd7926e323dcc3fe6f7bbe3c160e9515ed62e3576")
    }

    @Test("STS answers are read from their XML; entities are decoded")
    func stsXML() {
        let xml = "<R><Credentials><AccessKeyId>ASIA1</AccessKeyId><SecretAccessKey>a&amp;b</SecretAccessKey></Credentials></R>"
        #expect(AWSCredentialChain.element("AccessKeyId", in: xml) == "ASIA1")
        #expect(AWSCredentialChain.element("SecretAccessKey", in: xml) == "a&b")
        #expect(AWSCredentialChain.element("SessionToken", in: xml) == nil)
    }
}
