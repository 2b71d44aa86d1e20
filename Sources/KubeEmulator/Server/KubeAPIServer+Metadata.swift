import KubeModel

/// Metadata-only answers, as client-go's metadata client asks for them:
/// `Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1` on a list and
/// `…;as=PartialObjectMetadata;…` on a get. Each object is reduced to its `metadata` (all of it,
/// `managedFields` included) under the kind `PartialObjectMetadata` of `meta.k8s.io/v1`.
extension KubeAPIServer {
    enum MetadataForm { case list, object }

    func wantsMetadata(_ request: APIRequest) -> MetadataForm? {
        let accept = request.header("accept") ?? ""
        guard accept.contains("as=PartialObjectMetadata") else { return nil }
        return accept.contains("as=PartialObjectMetadataList") ? .list : .object
    }

    static func partialMetadata(_ o: JSONValue) -> JSONValue {
        ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"] ?? .emptyObject]
    }

    /// A list answered as `PartialObjectMetadataList`; asking for a single object's form is 406.
    func metadataList(_ form: MetadataForm, items: [JSONValue], metadata: JSONValue) throws(APIError) -> APIResponse {
        guard form == .list else {
            throw APIError(code: 406, reason: "NotAcceptable", message: "you requested PartialObjectMetadata, but the requested object is a list")
        }
        return .json(200, ["kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
                           "items": .array(items.map(Self.partialMetadata))])
    }

    /// One object answered as `PartialObjectMetadata`; asking for the list form is 406.
    func metadataObject(_ form: MetadataForm, _ o: JSONValue) throws(APIError) -> APIResponse {
        guard form == .object else {
            throw APIError(code: 406, reason: "NotAcceptable", message: "you requested PartialObjectMetadataList, but the requested object is not a list")
        }
        return .json(200, Self.partialMetadata(o))
    }
}
