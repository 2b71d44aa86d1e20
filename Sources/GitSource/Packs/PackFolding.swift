/// Which of a mirror's packs to fold into one, decided without I/O.
///
/// libgit2 keeps the pack every fetch brings and never repacks, and the mirror's own writes (sync
/// tags, automation commits) are loose objects; every object lookup that misses searches the packs
/// one by one, so a mirror gets slower with every fetch (BENCHMARKS.md, "A mirror after many
/// fetches"). When a mirror has more than `maxPacks` packs, or more loose objects than `maxLoose` by
/// git's estimate (the objects in one of the 256 fan-out directories, times 256), the small packs
/// and the loose objects are written into one new pack.
///
/// Which packs are small follows a geometric progression (as `git repack --geometric=2`): sorted by
/// size, the largest packs that are each at least twice the next smaller one stay as they are, and
/// everything below them is folded, absorbing any kept pack smaller than twice what is folded. A
/// fold therefore rewrites about as much as was fetched since the last one, not the whole history.
public struct PackFolding: Sendable, Equatable {
    public var maxPacks = 16
    public var maxLoose = 512
    /// Packs are kept only when each is at least this many times the next smaller.
    public var factor = 2

    public init() {}

    public struct Pack: Sendable, Equatable {
        /// The file name without extension: `pack-<hash>`.
        public var name: String
        public var bytes: Int
        public init(name: String, bytes: Int) {
            self.name = name
            self.bytes = bytes
        }
    }

    /// What to fold: these packs, and every loose object.
    public struct Plan: Sendable, Equatable {
        public var packs: [String]
    }

    /// Whether the mirror needs a fold at all (cheap: a count, no sizes).
    public func due(packCount: Int, looseInSample: Int) -> Bool {
        packCount > maxPacks || looseInSample * 256 > maxLoose
    }

    /// The fold for these packs, or nil when it would not reduce anything (one pack and no loose
    /// object seen).
    public func plan(packs: [Pack], looseInSample: Int) -> Plan? {
        guard due(packCount: packs.count, looseInSample: looseInSample) else { return nil }
        let sorted = packs.sorted { ($0.bytes, $0.name) < ($1.bytes, $1.name) }
        let folded = sorted[..<splitIndex(sorted)].map(\.name)
        guard folded.count >= 2 || looseInSample > 0 else { return nil }
        return Plan(packs: folded)
    }

    /// How many of the smallest packs (sorted ascending) to fold.
    func splitIndex(_ sorted: [Pack]) -> Int {
        guard sorted.count > 1 else { return 0 }
        // From the top: the largest packs that already form the progression stay.
        var top = sorted.count - 1
        while top > 0, sorted[top].bytes >= factor * sorted[top - 1].bytes { top -= 1 }
        // Packs 0...top are folded (top is the first that breaks the progression); a kept pack
        // smaller than twice the fold joins it.
        var split = top + 1
        var folded = sorted[..<split].reduce(0) { $0 + $1.bytes }
        while split < sorted.count, sorted[split].bytes < factor * folded {
            folded += sorted[split].bytes
            split += 1
        }
        return split
    }
}
