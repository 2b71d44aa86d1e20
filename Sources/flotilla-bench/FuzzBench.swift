import ArgumentParser
import Foundation
import GitTesting

/// Fuzzes the manifest loader, the `.flux.yaml` parser and the workload scanner for a while:
/// every input must be parsed or refused with an error naming its file, the same way twice, and
/// the process must neither crash nor grow. Prints inputs per kind, the slowest of each kind and
/// the peak RSS (RELIABILITY.md).
struct FuzzBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fuzz", abstract: "Fuzz the YAML loaders; figures per input kind.")

    @Option(help: "How long to run.") var seconds = 600
    @Option(help: "The generator's seed.") var seed: UInt64 = 20_261_202

    func run() throws {
        var fuzzer = ManifestFuzzer(seed: seed)
        var outcomes = FuzzOutcomes()
        var byKind: [String: (count: Int, slowest: Duration)] = [:]
        var failures: [String] = []
        let deadline = ContinuousClock.now + .seconds(seconds)
        var i = 0
        while ContinuousClock.now < deadline {
            let (kind, bytes) = fuzzer.next()
            let family = String(kind.split(separator: " ").first ?? "")
            let started = ContinuousClock.now
            if let failure = FuzzCheck.run(bytes, file: "fuzz/\(i).yaml", outcomes: &outcomes) { failures.append("input \(i) (\(kind)): \(failure)") }
            let took = ContinuousClock.now - started
            var entry = byKind[family] ?? (0, .zero)
            entry.count += 1
            entry.slowest = max(entry.slowest, took)
            byKind[family] = entry
            i += 1
        }
        print("flotilla-bench fuzz --seconds \(seconds) --seed \(seed): \(i) inputs, \(outcomes), \(failures.count) failures, peak RSS \(Self.peakRSS() / 1024) MiB")
        for (family, e) in byKind.sorted(by: { $0.key < $1.key }) {
            print("  \(family): \(e.count) inputs, slowest \(e.slowest)")
        }
        for f in failures.prefix(20) { print("  FAILURE \(f)") }
        if !failures.isEmpty { throw ExitCode.failure }
    }

    /// VmHWM in KiB.
    static func peakRSS() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
