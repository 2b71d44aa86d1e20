import KubeClient

/// The outcome of `body`, error included, so that what must follow it (a client's shutdown) runs
/// either way and is awaited.
func capture<T>(_ body: () async throws -> T) async -> Result<T, any Error> {
    do {
        return .success(try await body())
    } catch {
        return .failure(error)
    }
}

/// Runs `body` with `client`, then shuts the client down and waits for it, whether `body`
/// succeeded or threw.
func using<T>(_ client: KubeClient, _ body: (KubeClient) async throws -> T) async throws -> T {
    let outcome = await capture { try await body(client) }
    try? await client.shutdown()
    return try outcome.get()
}
