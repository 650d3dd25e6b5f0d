/// "Did you mean ...?" for a mistyped key: the known key that is the same word spelled differently
/// (`numVFs`, `num-vfs`), else the one within a small edit distance.
enum KeySuggestion {
    static func closest(to key: String, in known: [String]) -> String? {
        let squashed = squash(key)
        if let same = known.first(where: { squash($0) == squashed }) { return same }
        let limit = max(1, min(3, key.count / 3))
        var best: (key: String, distance: Int)?
        for candidate in known {
            let d = distance(Array(key.lowercased()), Array(candidate))
            if d <= limit, d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        return best?.key
    }

    /// `a, b or c` for messages.
    static func list(_ keys: [String]) -> String {
        guard keys.count > 1, let last = keys.last else { return keys.first ?? "(none)" }
        return keys.dropLast().joined(separator: ", ") + " or " + last
    }

    /// Lower case without `_` and `-`.
    private static func squash(_ s: String) -> String {
        String(s.lowercased().filter { $0 != "_" && $0 != "-" })
    }

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
