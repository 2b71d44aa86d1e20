import Foundation
import NIOHTTP1

/// AWS credentials as the AWS SDKs find them, in their order: static environment variables, web
/// identity (IRSA: `AWS_ROLE_ARN` and `AWS_WEB_IDENTITY_TOKEN_FILE`, exchanged through STS
/// `AssumeRoleWithWebIdentity`), the container credentials endpoint (EKS Pod Identity, ECS), and
/// EC2 instance metadata with an IMDSv2 token (what Kiam and kube2iam intercept). Endpoints follow
/// the SDKs' variables (`AWS_ENDPOINT_URL_STS`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`, …).
struct AWSCredentialChain: Sendable {
    struct Credentials: Sendable, Equatable {
        var accessKeyID: String
        var secretAccessKey: String
        var sessionToken: String?
        var expiration: Date?
        /// Which link of the chain gave them (logs and messages).
        var source: String
    }

    let environment: [String: String]
    let http: CredentialHTTP

    func credentials(region: String) async throws(RegistryError) -> Credentials {
        let env = environment
        if let id = env["AWS_ACCESS_KEY_ID"], let secret = env["AWS_SECRET_ACCESS_KEY"], !id.isEmpty, !secret.isEmpty {
            return Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: env["AWS_SESSION_TOKEN"], expiration: nil, source: "environment")
        }
        if let role = env["AWS_ROLE_ARN"], let file = env["AWS_WEB_IDENTITY_TOKEN_FILE"] {
            return try await webIdentity(role: role, tokenFile: file, region: region)
        }
        if env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] != nil || env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] != nil {
            return try await container()
        }
        if env["AWS_EC2_METADATA_DISABLED"]?.lowercased() == "true" {
            throw CredentialHTTP.failure("AWS: no credentials: no AWS_ACCESS_KEY_ID, no web identity (AWS_ROLE_ARN), no container endpoint, and instance metadata is disabled")
        }
        return try await instanceMetadata()
    }

    func webIdentity(role: String, tokenFile: String, region: String) async throws(RegistryError) -> Credentials {
        let what = "AWS STS AssumeRoleWithWebIdentity for \(role)"
        guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw CredentialHTTP.failure("\(what): cannot read the web identity token file \(tokenFile)")
        }
        let endpoint = environment["AWS_ENDPOINT_URL_STS"] ?? environment["AWS_ENDPOINT_URL"] ?? "https://sts.\(region).amazonaws.com"
        let body = CredentialHTTP.form([("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role),
                                        ("RoleSessionName", environment["AWS_ROLE_SESSION_NAME"] ?? "flotilla"), ("WebIdentityToken", token)])
        let response = try await http.send(.POST, endpoint + "/", headers: ["Content-Type": "application/x-www-form-urlencoded"], body: body, what: what)
        let text = response.text
        guard (200..<300).contains(response.status) else {
            let code = Self.element("Code", in: text) ?? "HTTP \(response.status)"
            throw CredentialHTTP.failure("\(what): refused: \(code)\(Self.element("Message", in: text).map { ": \($0.prefix(200))" } ?? "")")
        }
        guard let id = Self.element("AccessKeyId", in: text), let secret = Self.element("SecretAccessKey", in: text) else {
            throw CredentialHTTP.failure("\(what): the answer has no Credentials")
        }
        return Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: Self.element("SessionToken", in: text),
                           expiration: Self.element("Expiration", in: text).flatMap(RegistryClient.parseTime), source: "web identity")
    }

    func container() async throws(RegistryError) -> Credentials {
        let url = environment["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
            ?? "http://169.254.170.2" + (environment["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"] ?? "")
        var headers: [String: String] = [:]
        if let file = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"] {
            guard let token = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CredentialHTTP.failure("AWS container credentials: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \(file)")
            }
            headers["Authorization"] = token.trimmingCharacters(in: .whitespacesAndNewlines)
        } else if let token = environment["AWS_CONTAINER_AUTHORIZATION_TOKEN"] {
            headers["Authorization"] = token
        }
        let what = "AWS container credentials endpoint"
        let o = try http.json(try await http.send(.GET, url, headers: headers, what: what), what: what)
        return try Self.decode(o, what: what, source: "container endpoint")
    }

    func instanceMetadata() async throws(RegistryError) -> Credentials {
        let base = environment["AWS_EC2_METADATA_SERVICE_ENDPOINT"].map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? "http://169.254.169.254"
        let what = "EC2 instance metadata (IMDSv2)"
        let tokenAnswer = try await http.send(.PUT, base + "/latest/api/token", headers: ["X-aws-ec2-metadata-token-ttl-seconds": "21600"], what: what)
        guard tokenAnswer.status == 200, !tokenAnswer.body.isEmpty else {
            throw CredentialHTTP.failure("\(what): no session token (HTTP \(tokenAnswer.status))")
        }
        let token = ["X-aws-ec2-metadata-token": tokenAnswer.text]
        let roles = try await http.send(.GET, base + "/latest/meta-data/iam/security-credentials/", headers: token, what: what)
        guard roles.status == 200, let role = roles.text.split(whereSeparator: \.isNewline).first.map(String.init), !role.isEmpty else {
            throw CredentialHTTP.failure("\(what): the instance has no IAM role (HTTP \(roles.status))")
        }
        let o = try http.json(try await http.send(.GET, base + "/latest/meta-data/iam/security-credentials/" + role, headers: token, what: what), what: what)
        return try Self.decode(o, what: "\(what) role \(role)", source: "instance metadata")
    }

    static func decode(_ o: [String: Any], what: String, source: String) throws(RegistryError) -> Credentials {
        guard let id = o["AccessKeyId"] as? String, let secret = o["SecretAccessKey"] as? String, !id.isEmpty, !secret.isEmpty else {
            throw CredentialHTTP.failure("\(what): the answer has no AccessKeyId and SecretAccessKey")
        }
        return Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: o["Token"] as? String,
                           expiration: (o["Expiration"] as? String).flatMap(RegistryClient.parseTime), source: source)
    }

    /// The text of the first `<name>…</name>` in an AWS query-protocol XML answer.
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return String(xml[open.upperBound..<close.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }
}
