import NIOCore

/// A push of one ref on an exec channel of `git-receive-pack` (`ReceivePack`): read the ref
/// advertisement, send the update and its pack (or a flush alone when the ref is already there),
/// read the report. The output says whether the ref moved.
struct ReceivePackExchange: SSHGitExchange {
    static var program: String { "git-receive-pack" }
    let ref: String
    let new: String
    let pack: [UInt8]
    private var advertisement = RefAdvertisement(keepingCapabilities: true)
    /// Set once the update was sent.
    private var report: ReceivePack.Report?

    init(ref: String, new: String, pack: [UInt8]) {
        self.ref = ref
        self.new = new
        self.pack = pack
    }

    var stage: String { report == nil ? "before listing refs" : "before reporting on \(ref)" }
    var endedEarly: String {
        if report != nil { return "the connection closed before the server reported on \(ref)" }
        return advertisement.started ? "the ref advertisement ended early" : "the connection closed before git-receive-pack answered"
    }

    mutating func consume(_ bytes: ByteBufferView) throws(GitError) -> SSHExchangeStep<Bool> {
        if report != nil {
            switch try report!.consume(bytes, ref: ref) {
            case nil: return .more
            case .updated: return .done(true, send: [])
            case .refused(let why): throw GitError(.pushRejected, "\(ref) was refused: \(why)")
            }
        }
        // The server says nothing after its advertisement until it has the update.
        guard let advertised = try advertisement.consume(bytes) else { return .more }
        let request = try ReceivePack.request(ref: ref, new: new, advertised: advertised, capabilities: advertisement.capabilityWords, pack: pack)
        guard request.updates else { return .done(false, send: request.bytes) }
        report = ReceivePack.Report()
        return .send(request.bytes)
    }
}
