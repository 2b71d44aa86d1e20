/// A unified diff of two texts, line by line, as `diff -u` prints it (three lines of context,
/// hunks merged when their context touches). Pure; the edit script is the standard library's
/// `CollectionDifference`.
public enum UnifiedDiff {
    enum Op: Equatable {
        case same(String), removed(String), added(String)
    }

    /// The hunks only (`@@ … @@` and their lines); empty when the texts are equal.
    public static func hunks(old: [String], new: [String], context: Int = 3) -> [String] {
        let ops = script(old: old, new: new)
        let changed = ops.indices.filter { if case .same = ops[$0] { return false } else { return true } }
        guard !changed.isEmpty else { return [] }
        // Windows of changes whose context overlaps or touches.
        var windows: [(Int, Int)] = []
        for i in changed {
            let lo = max(0, i - context), hi = min(ops.count - 1, i + context)
            if let last = windows.last, lo <= last.1 + 1 { windows[windows.count - 1].1 = hi } else { windows.append((lo, hi)) }
        }
        // Line numbers (1-based) of each op in the old and new texts.
        var oldLine = [Int](repeating: 0, count: ops.count), newLine = [Int](repeating: 0, count: ops.count)
        var o = 1, n = 1
        for (i, op) in ops.enumerated() {
            oldLine[i] = o
            newLine[i] = n
            switch op {
            case .same: o += 1; n += 1
            case .removed: o += 1
            case .added: n += 1
            }
        }
        var out: [String] = []
        for (lo, hi) in windows {
            let slice = ops[lo...hi]
            let oldCount = slice.filter { if case .added = $0 { return false } else { return true } }.count
            let newCount = slice.filter { if case .removed = $0 { return false } else { return true } }.count
            let oldStart = oldCount == 0 ? oldLine[lo] - 1 : oldLine[lo]
            let newStart = newCount == 0 ? newLine[lo] - 1 : newLine[lo]
            out.append("@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@")
            for op in slice {
                switch op {
                case .same(let l): out.append(" " + l)
                case .removed(let l): out.append("-" + l)
                case .added(let l): out.append("+" + l)
                }
            }
        }
        return out
    }

    static func range(_ start: Int, _ count: Int) -> String { count == 1 ? "\(start)" : "\(start),\(count)" }

    /// Removals before insertions at the same place, as diff prints them.
    static func script(old: [String], new: [String]) -> [Op] {
        let difference = new.difference(from: old)
        var removed = Set<Int>(), inserted = Set<Int>()
        for change in difference {
            switch change {
            case .remove(let offset, _, _): removed.insert(offset)
            case .insert(let offset, _, _): inserted.insert(offset)
            }
        }
        var ops: [Op] = []
        var i = 0, j = 0
        while i < old.count || j < new.count {
            if i < old.count && removed.contains(i) {
                ops.append(.removed(old[i]))
                i += 1
            } else if j < new.count && inserted.contains(j) {
                ops.append(.added(new[j]))
                j += 1
            } else {
                ops.append(.same(old[i]))
                i += 1
                j += 1
            }
        }
        return ops
    }

    /// The whole diff with its `---`/`+++` headers (empty when equal).
    public static func make(old: String, new: String, oldName: String, newName: String) -> String {
        let hunks = hunks(old: lines(old), new: lines(new))
        guard !hunks.isEmpty else { return "" }
        return (["--- \(oldName)", "+++ \(newName)"] + hunks).joined(separator: "\n") + "\n"
    }

    static func lines(_ text: String) -> [String] {
        guard !text.isEmpty else { return [] }
        var out = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if out.last == "" { out.removeLast() }
        return out
    }
}
