import Foundation

/// User + system CPU time of another process and of its children it has waited for
/// (/proc/<pid>/stat: utime, stime, cutime, cstime): `git daemon`'s includes every upload-pack and
/// receive-pack it forked and reaped. Zero when the process is gone.
func processCPU(_ pid: Int32) -> Duration {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return .zero }
    // Fields after the command name: state is field 3; utime..cstime are fields 14–17.
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 14 else { return .zero }
    let ticks = fields[11...14].compactMap { Int64($0) }.reduce(0, +)
    return .microseconds(ticks * 1_000_000 / Int64(sysconf(Int32(_SC_CLK_TCK))))
}

/// CPU time the whole machine spent busy (/proc/stat: user, nice, system, irq, softirq, steal),
/// summed over its cores. Less this process and the emulator, it is what other processes (`git
/// daemon` and the upload-packs and receive-packs it forks) used.
func machineCPU() -> Duration {
    guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
          let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return .zero }
    let fields = line.split(separator: " ").dropFirst().compactMap { Int64($0) }
    guard fields.count >= 8 else { return .zero }
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    return .microseconds(busy * 1_000_000 / Int64(sysconf(Int32(_SC_CLK_TCK))))
}
