import KubeClient
import KubeModel

/// Registry credentials from workloads' `imagePullSecrets` and their ServiceAccounts', read with
/// the instance's identity (a Secret the instance may not read is an error naming it, never read
/// with the operator's rights). Each Secret and ServiceAccount is read once per run.
public struct PullSecrets {
    let client: KubeClient
    var secrets: [String: [String: RegistryCredentials]] = [:]
    var accounts: [String: [String]] = [:]

    public init(client: KubeClient) { self.client = client }

    public mutating func credentials(for workload: Workload) async -> ([String: RegistryCredentials], [String]) {
        let ns = workload.id.namespace
        var errors: [String] = []
        var names = workload.pullSecrets
        let accountKey = ns + "/" + workload.serviceAccount
        if accounts[accountKey] == nil {
            do {
                let account = try await client.get(.serviceAccounts, name: workload.serviceAccount, namespace: ns)
                accounts[accountKey] = account["imagePullSecrets"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
            } catch {
                // A ServiceAccount that does not exist (yet) has no pull secrets.
                if !error.isNotFound { errors.append("ServiceAccount \(accountKey) of \(workload.id): \(error)") }
                accounts[accountKey] = []
            }
        }
        names += accounts[accountKey] ?? []
        var out: [String: RegistryCredentials] = [:]
        for name in names {
            let key = ns + "/" + name
            if secrets[key] == nil {
                do {
                    let secret = try await client.get(Secret.self, name: name, namespace: ns)
                    secrets[key] = DockerConfig.credentials(in: secret) ?? [:]
                    if secrets[key]?.isEmpty == true { errors.append("image pull Secret \(key) of \(workload.id) has no .dockerconfigjson") }
                } catch {
                    errors.append("image pull Secret \(key) of \(workload.id): \(error.isNotFound ? "not found" : "\(error)")")
                    secrets[key] = [:]
                }
            }
            out.merge(secrets[key] ?? [:]) { first, _ in first }
        }
        return (out, errors)
    }
}
