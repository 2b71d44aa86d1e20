import NIOCore

/// A poll (`git ls-remote`) on an exec channel of `git-upload-pack`: read the ref advertisement up
/// to its flush, then say "I want nothing" (a flush).
struct UploadPackExchange: SSHGitExchange {
    static var program: String { "git-upload-pack" }
    private var advertisement = RefAdvertisement()

    var stage: String { "before listing refs" }
    var endedEarly: String {
        advertisement.started ? "the ref advertisement ended early" : "the connection closed before git-upload-pack answered"
    }

    mutating func consume(_ bytes: ByteBufferView) throws(GitError) -> SSHExchangeStep<RemoteHeads> {
        guard let heads = try advertisement.consume(bytes) else { return .more }
        return .done(heads, send: Array("0000".utf8))
    }
}
