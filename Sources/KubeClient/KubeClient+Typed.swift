import Foundation
import KubeModel
import NIOHTTP1

extension KubeClient {
    public func get<T: KubeObject>(_ type: T.Type, name: String, namespace: String? = nil) async throws(KubeError) -> T {
        try await get(T.resourceType, name: name, namespace: namespace).decode(T.self)
    }

    public func create<T: KubeObject>(_ object: T, options: WriteOptions = WriteOptions()) async throws(KubeError) -> T {
        try await create(T.resourceType, try JSONValue.encode(object), namespace: object.metadata.namespace, options: options).decode(T.self)
    }

    public func update<T: KubeObject>(_ object: T, options: WriteOptions = WriteOptions()) async throws(KubeError) -> T {
        try await update(T.resourceType, try JSONValue.encode(object), options: options).decode(T.self)
    }

    /// Requests a token for a ServiceAccount (TokenRequest).
    public func requestToken(serviceAccount name: String, namespace: String, audiences: [String]? = nil,
                             expirationSeconds: Int64 = 3600) async throws(KubeError) -> TokenRequest.Status {
        let body = try JSONValue.encode(TokenRequest(audiences: audiences, expirationSeconds: expirationSeconds))
        let response = try await send(.POST, ResourceType.serviceAccounts.path(namespace: namespace, name: name, subresource: "token"),
                                      body: body.jsonBytes()).json
        guard let status = try response.decode(TokenRequest.self).status else {
            throw KubeError(code: 0, reason: "Decode", message: "TokenRequest answer has no status")
        }
        return status
    }

    /// Asks whether another identity may do something (SubjectAccessReview; needs `create` on it).
    public func review(_ review: SubjectAccessReview) async throws(KubeError) -> AccessReviewStatus {
        let answer = try await create(.subjectAccessReviews, try JSONValue.encode(review)).decode(SubjectAccessReview.self)
        return answer.status ?? AccessReviewStatus(allowed: false, denied: nil, reason: nil, evaluationError: "no status")
    }
}
