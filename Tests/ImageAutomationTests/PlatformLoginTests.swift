import Foundation
import GitTesting
@testable import ImageAutomation
import Testing

/// Platform logins against the real protocols on loopback: moto's server for EC2 instance metadata
/// (IMDSv2), STS and ECR (with moto checking access keys and SigV4 signatures), small stand-ins for
/// the GCE metadata server, Entra ID with an ACR, and the container credentials endpoint; behind
/// each token, Debian's docker-registry under the cloud registry's host name.
@Suite("Platform credentials against loopback servers", .serialized)
struct PlatformLoginTests {
    static let ecrHost = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    static let team = PlatformCredentialPolicy(providers: [.aws, .gcp, .azure], namespaces: ["team-a"])

    func file(_ text: String) throws -> String {
        let path = tempDir("platform") + "/token"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Scans `host/team/app` in a docker-registry that accepts only `login`, through the name.
    func scan(_ host: String, with login: RegistryCredentials) async throws -> [String] {
        let registry = try LocalRegistry(auth: .basic(user: login.username, password: login.password))
        defer { registry.stop() }
        try registry.push("team/app", tag: "1.0.0", created: Date(timeIntervalSince1970: 1_700_000_000))
        let client = RegistryClient(limits: HostRateLimits(), endpoints: [host: "http://" + registry.host])
        let image = try #require(ImageRef("\(host)/team/app"))
        await #expect(throws: RegistryError.self, "the registry refuses anonymous scans") {
            try await client.tags(image, credentials: nil, settings: RegistryHostSettings())
        }
        return try await client.tags(image, credentials: login, settings: RegistryHostSettings())
    }

    @Test("AWS: IMDSv2 credentials → ECR GetAuthorizationToken → the registry serves the scan; web identity through STS; a disallowed namespace is refused before any request")
    func ecr() async throws {
        let moto = try motoServer()
        defer { moto.stop() }
        let imds = PlatformCredentials(policy: Self.team, environment: ["AWS_EC2_METADATA_SERVICE_ENDPOINT": moto.url, "AWS_ENDPOINT_URL_ECR": moto.url])
        let login = try #require(try await imds.credentials(for: Self.ecrHost, namespace: "team-a"))
        #expect(login.username == "AWS" && login.password == "123456789012-auth-token", "moto's token for the account, decoded")
        #expect(try await scan(Self.ecrHost, with: login) == ["1.0.0"])

        let token = try file("eyJhbGciOiJSUzI1NiJ9.test-web-identity")
        let irsa = PlatformCredentials(policy: Self.team, environment: [
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/flotilla", "AWS_WEB_IDENTITY_TOKEN_FILE": token,
            "AWS_ENDPOINT_URL_STS": moto.url, "AWS_ENDPOINT_URL_ECR": moto.url,
            "AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://127.0.0.1:1"])  // never reached: web identity comes first
        #expect(try await irsa.credentials(for: Self.ecrHost, namespace: "team-a")?.username == "AWS")
        let noSTS = PlatformCredentials(policy: Self.team, environment: [
            "AWS_ROLE_ARN": "arn:aws:iam::123456789012:role/flotilla", "AWS_WEB_IDENTITY_TOKEN_FILE": token,
            "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_ECR": moto.url])
        let stsDown = await #expect(throws: RegistryError.self) { try await noSTS.credentials(for: Self.ecrHost, namespace: "team-a") }
        #expect(stsDown?.kind == .credentialsUnavailable)
        #expect(stsDown?.message.contains("AssumeRoleWithWebIdentity") == true, "\(stsDown?.message ?? "")")

        let refused = await #expect(throws: RegistryError.self) { try await imds.credentials(for: Self.ecrHost, namespace: "team-b") }
        #expect(refused?.message.hasPrefix("RegistryCredentialsUnavailable: ") == true && refused?.message.contains("namespace team-b") == true)
        #expect(try await imds.credentials(for: "127.0.0.1:5000", namespace: "team-b") == nil, "not a cloud registry: no platform login, no error")
    }

    @Test("AWS: moto checks the access key and the SigV4 signature: static keys sign right; a wrong secret and a user without the policy are refused with AWS's code")
    func signedRequests() async throws {
        let moto = try motoServer(unauthenticatedCalls: 5)
        defer { moto.stop() }
        // Unsigned set-up calls (moto lets the first five through); the credential scope names
        // the service, which is how moto's single port routes them to IAM.
        func iam(_ form: String) throws -> String {
            try sh(["curl", "-sf", "-X", "POST", moto.url + "/", "--data", form + "&Version=2010-05-08",
                    "-H", "Authorization: AWS4-HMAC-SHA256 Credential=AKIDSETUP/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0"])
        }
        _ = try iam("Action=CreateUser&UserName=flotilla")
        let created = try iam("Action=CreateAccessKey&UserName=flotilla")
        let policy = #"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecr:GetAuthorizationToken","Resource":"*"}]}"#
        _ = try iam("Action=PutUserPolicy&UserName=flotilla&PolicyName=ecr&PolicyDocument=" + (policy.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
        _ = try iam("Action=CreateUser&UserName=nobody")
        let nobody = try iam("Action=CreateAccessKey&UserName=nobody")  // the fifth: from here on moto checks
        let key = try #require(AWSCredentialChain.element("AccessKeyId", in: created))
        let secret = try #require(AWSCredentialChain.element("SecretAccessKey", in: created))
        let env = ["AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL_ECR": moto.url]
        let platform = PlatformCredentials(policy: Self.team, environment: env)
        #expect(try await platform.credentials(for: Self.ecrHost, namespace: "team-a")?.username == "AWS", "moto verified the signature")

        let wrong = PlatformCredentials(policy: Self.team, environment: env.merging(["AWS_SECRET_ACCESS_KEY": "not-the-secret"]) { _, new in new })
        let mismatch = await #expect(throws: RegistryError.self) { try await wrong.credentials(for: Self.ecrHost, namespace: "team-a") }
        #expect(mismatch?.message.contains("SignatureDoesNotMatch") == true, "\(mismatch?.message ?? "")")
        #expect(mismatch?.message.contains("not-the-secret") == false, "never a secret in a message")

        // A role (here a user) without ecr:GetAuthorizationToken: AWS's AccessDenied, named.
        let denied = PlatformCredentials(policy: Self.team, environment: [
            "AWS_ACCESS_KEY_ID": try #require(AWSCredentialChain.element("AccessKeyId", in: nobody)),
            "AWS_SECRET_ACCESS_KEY": try #require(AWSCredentialChain.element("SecretAccessKey", in: nobody)), "AWS_ENDPOINT_URL_ECR": moto.url])
        let refused = await #expect(throws: RegistryError.self) { try await denied.credentials(for: Self.ecrHost, namespace: "team-a") }
        #expect(refused?.message.contains("AccessDenied") == true, "\(refused?.message ?? "")")
    }

    @Test("AWS: the container credentials endpoint (EKS Pod Identity) with its authorization token file")
    func containerEndpoint() async throws {
        let moto = try motoServer()
        defer { moto.stop() }
        let endpoint = try cloudIdentityServer("aws-container", ["auth": "pod-identity-token", "key": "AKIDPOD", "secret": "pod-secret", "session": "pod-session"])
        defer { endpoint.stop() }
        let env = ["AWS_CONTAINER_CREDENTIALS_FULL_URI": endpoint.url + "/v1/credentials", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": try file("pod-identity-token\n"),
                   "AWS_ENDPOINT_URL_ECR": moto.url]
        let chain = AWSCredentialChain(environment: env, http: CredentialHTTP(client: RegistryClient.sharedHTTP))
        let credentials = try await chain.credentials(region: "us-east-1")
        #expect(credentials == .init(accessKeyID: "AKIDPOD", secretAccessKey: "pod-secret", sessionToken: "pod-session",
                                     expiration: RegistryClient.parseTime("2099-01-01T00:00:00Z"), source: "container endpoint"))
        #expect(try await PlatformCredentials(policy: Self.team, environment: env).credentials(for: Self.ecrHost, namespace: "team-a")?.username == "AWS")
        let badToken = AWSCredentialChain(environment: env.merging(["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": try file("stolen")]) { _, new in new },
                                          http: CredentialHTTP(client: RegistryClient.sharedHTTP))
        let refused = await #expect(throws: RegistryError.self) { try await badToken.credentials(region: "us-east-1") }
        #expect(refused?.message.contains("HTTP 401") == true, "\(refused?.message ?? "")")
    }

    @Test("Google: the metadata server's token as oauth2accesstoken; cached until near expiry (one login for many scans)")
    func google() async throws {
        let metadata = try cloudIdentityServer("gce", ["token": "ya29.test-access-token"])
        defer { metadata.stop() }
        let platform = PlatformCredentials(policy: Self.team, environment: ["GCE_METADATA_HOST": "127.0.0.1:\(metadata.port)"])
        let host = "europe-west1-docker.pkg.dev"
        let login = try #require(try await platform.credentials(for: host, namespace: "team-a"))
        #expect(login == RegistryCredentials(username: "oauth2accesstoken", password: "ya29.test-access-token"))
        #expect(try await scan(host, with: login) == ["1.0.0"])
        for other in ["gcr.io", "eu.gcr.io", host] { _ = try await platform.credentials(for: other, namespace: "team-a") }
        #expect(platform.logins == 1, "one token serves every Google registry until it nears expiry")
    }

    @Test("Azure: the federated token → Entra ID → the ACR's refresh token; the registry serves the scan")
    func azure() async throws {
        let registry = try LocalRegistry(auth: .basic(user: AzureTokenSource.acrUser, password: "acr-refresh-token"))
        defer { registry.stop() }
        try registry.push("team/app", tag: "2.0.0", created: Date(timeIntervalSince1970: 1_700_000_000))
        let acr = try cloudIdentityServer("azure", ["tenant": "tenant-1", "client": "client-1", "assertion": "federated.jwt.token",
                                                    "access": "aad-access-token", "refresh": "acr-refresh-token", "registry": "http://" + registry.host])
        defer { acr.stop() }
        let host = "team.azurecr.io"
        let env = ["AZURE_CLIENT_ID": "client-1", "AZURE_TENANT_ID": "tenant-1", "AZURE_FEDERATED_TOKEN_FILE": try file("federated.jwt.token"),
                   "AZURE_AUTHORITY_HOST": acr.url + "/"]
        let platform = PlatformCredentials(policy: Self.team, environment: env, endpoints: [host: acr.url])
        let login = try #require(try await platform.credentials(for: host, namespace: "team-a"))
        #expect(login == RegistryCredentials(username: AzureTokenSource.acrUser, password: "acr-refresh-token"))
        let client = RegistryClient(limits: HostRateLimits(), endpoints: [host: acr.url])
        #expect(try await client.tags(try #require(ImageRef("\(host)/team/app")), credentials: login, settings: RegistryHostSettings()) == ["2.0.0"])

        let wrongClient = PlatformCredentials(policy: Self.team, environment: env.merging(["AZURE_CLIENT_ID": "someone-else"]) { _, new in new }, endpoints: [host: acr.url])
        let refused = await #expect(throws: RegistryError.self) { try await wrongClient.credentials(for: host, namespace: "team-a") }
        #expect(refused?.message.contains("AADSTS700016") == true, "Entra ID's own error code: \(refused?.message ?? "")")
    }

    @Test("failures: a metadata endpoint down, hanging or answering garbage is a clear error, retried only after a backoff")
    func failures() async throws {
        let garbage = try cloudIdentityServer("garbage")
        defer { garbage.stop() }
        let silent = try SilentServer()
        let cases: [(String, String, String)] = [
            ("127.0.0.1:1", "cannot reach", "down"),
            ("127.0.0.1:\(silent.port)", "did not answer within", "hanging"),
            ("127.0.0.1:\(garbage.port)", "not a JSON object", "garbage"),
        ]
        for (host, expected, what) in cases {
            let platform = PlatformCredentials(policy: Self.team, environment: ["GCE_METADATA_HOST": host], timeout: .seconds(1))
            let started = ContinuousClock.now
            let error = await #expect(throws: RegistryError.self) { try await platform.credentials(for: "gcr.io", namespace: "team-a") }
            #expect(ContinuousClock.now - started < .seconds(5), "\(what): bounded by the timeout")
            #expect(error?.kind == .credentialsUnavailable)
            #expect(error?.message.hasPrefix("RegistryCredentialsUnavailable: gcr.io") == true && error?.message.contains(expected) == true, "\(what): \(error?.message ?? "")")
            _ = try? await platform.credentials(for: "gcr.io", namespace: "team-a")
            #expect(platform.logins == 1, "\(what): the failure is remembered for the backoff, not asked again at once")
        }
    }
}
