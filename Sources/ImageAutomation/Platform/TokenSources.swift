import Foundation
import NIOHTTP1

/// A registry login obtained from a platform, and until when it serves.
struct PlatformLogin: Sendable {
    var credentials: RegistryCredentials
    var expires: Date?
}

/// ECR: `GetAuthorizationToken` for the registry's account, signed with SigV4 by the credential
/// chain's credentials; the answer is `AWS:<password>` in base64.
struct ECRTokenSource: Sendable {
    let chain: AWSCredentialChain

    func login(account: String, region: String, china: Bool, now: Date = Date()) async throws(RegistryError) -> PlatformLogin {
        let aws = try await chain.credentials(region: region)
        let env = chain.environment
        let endpoint = env["AWS_ENDPOINT_URL_ECR"] ?? env["AWS_ENDPOINT_URL"] ?? "https://api.ecr.\(region).amazonaws.com\(china ? ".cn" : "")"
        guard let url = URL(string: endpoint.hasSuffix("/") ? endpoint : endpoint + "/"), let host = url.host else {
            throw CredentialHTTP.failure("AWS ECR: the endpoint \(endpoint) is not a URL")
        }
        let body = Array(#"{"registryIds":["\#(account)"]}"#.utf8)
        var headers = ["content-type": "application/x-amz-json-1.1",
                       "x-amz-target": "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken",
                       "host": url.port.map { "\(host):\($0)" } ?? host]
        let signer = SigV4(accessKeyID: aws.accessKeyID, secretAccessKey: aws.secretAccessKey, sessionToken: aws.sessionToken, region: region, service: "ecr")
        headers.merge(signer.sign(method: "POST", url: url, headers: headers, body: body, date: now)) { _, new in new }
        let what = "AWS ECR GetAuthorizationToken for account \(account) in \(region) (credentials from \(aws.source))"
        let o = try chain.http.json(try await chain.http.send(.POST, url.absoluteString, headers: headers, body: body, what: what), what: what)
        guard let data = (o["authorizationData"] as? [[String: Any]])?.first, let token = data["authorizationToken"] as? String,
              let decoded = Data(base64Encoded: token).map({ String(decoding: $0, as: UTF8.self) }), let colon = decoded.firstIndex(of: ":") else {
            throw CredentialHTTP.failure("\(what): the answer has no authorizationToken")
        }
        let expires = (data["expiresAt"] as? Double).map { Date(timeIntervalSince1970: $0) }
        return PlatformLogin(credentials: RegistryCredentials(username: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...])),
                             expires: expires)
    }
}

/// Google: an access token of the pod's service account from the GCE metadata server (GKE
/// Workload Identity answers there), used as `oauth2accesstoken`.
struct GoogleTokenSource: Sendable {
    let environment: [String: String]
    let http: CredentialHTTP

    func login(now: Date = Date()) async throws(RegistryError) -> PlatformLogin {
        let host = environment["GCE_METADATA_HOST"] ?? "169.254.169.254"
        let what = "GCE metadata server token"
        let response = try await http.send(.GET, "http://\(host)/computeMetadata/v1/instance/service-accounts/default/token",
                                           headers: ["Metadata-Flavor": "Google"], what: what)
        if (200..<300).contains(response.status), response.headers["Metadata-Flavor"].first != "Google" {
            throw CredentialHTTP.failure("\(what): the answer is not from a metadata server (no Metadata-Flavor: Google)")
        }
        let o = try http.json(response, what: what)
        guard let token = o["access_token"] as? String, !token.isEmpty else {
            throw CredentialHTTP.failure("\(what): the answer has no access_token")
        }
        let expires = (o["expires_in"] as? Double).map { now.addingTimeInterval($0) }
        return PlatformLogin(credentials: RegistryCredentials(username: "oauth2accesstoken", password: token), expires: expires)
    }
}

/// Azure: workload identity. The projected service-account token (`AZURE_FEDERATED_TOKEN_FILE`)
/// is exchanged at Entra ID for an access token (client credentials with a JWT client
/// assertion), which the registry's `/oauth2/exchange` turns into an ACR refresh token.
struct AzureTokenSource: Sendable {
    let environment: [String: String]
    let http: CredentialHTTP
    /// How to reach a registry host (tests map hosts to loopback, as the registry client does).
    let endpoint: @Sendable (String) -> String

    static let acrUser = "00000000-0000-0000-0000-000000000000"

    func login(registry host: String, now: Date = Date()) async throws(RegistryError) -> PlatformLogin {
        let env = environment
        guard let client = env["AZURE_CLIENT_ID"], let tenant = env["AZURE_TENANT_ID"], let file = env["AZURE_FEDERATED_TOKEN_FILE"] else {
            throw CredentialHTTP.failure("Azure workload identity: AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE must be set (the workload identity webhook sets them)")
        }
        guard let assertion = try? String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !assertion.isEmpty else {
            throw CredentialHTTP.failure("Azure workload identity: cannot read the federated token file \(file)")
        }
        var authority = env["AZURE_AUTHORITY_HOST"] ?? "https://login.microsoftonline.com/"
        if !authority.hasSuffix("/") { authority += "/" }
        let what = "Entra ID token for client \(client)"
        let aad = try http.json(try await http.send(.POST, "\(authority)\(tenant)/oauth2/v2.0/token",
                                                    headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                    body: CredentialHTTP.form([("grant_type", "client_credentials"), ("client_id", client),
                                                                               ("scope", "https://management.azure.com/.default"),
                                                                               ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                                                                               ("client_assertion", assertion)]), what: what), what: what)
        guard let accessToken = aad["access_token"] as? String else { throw CredentialHTTP.failure("\(what): the answer has no access_token") }
        let exchange = "ACR token exchange at \(host)"
        let acr = try http.json(try await http.send(.POST, endpoint(host) + "/oauth2/exchange",
                                                    headers: ["Content-Type": "application/x-www-form-urlencoded"],
                                                    body: CredentialHTTP.form([("grant_type", "access_token"), ("service", host),
                                                                               ("tenant", tenant), ("access_token", accessToken)]), what: exchange), what: exchange)
        guard let refresh = acr["refresh_token"] as? String else { throw CredentialHTTP.failure("\(exchange): the answer has no refresh_token") }
        let lifetime = (aad["expires_in"] as? Double) ?? (aad["expires_in"] as? String).flatMap(Double.init) ?? 3600
        return PlatformLogin(credentials: RegistryCredentials(username: Self.acrUser, password: refresh), expires: now.addingTimeInterval(min(lifetime, 3 * 3600)))
    }
}
