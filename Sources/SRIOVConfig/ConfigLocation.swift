import SRIOVCore

/// Where a value sits in a config file: its key path (`pools[1].selectors[0].vfs`) and, when the file was
/// parsed from YAML, its line. Every config error is built here so each one names the file, the key path,
/// the line, the reason and the fix in the same shape.
struct ConfigLocation: Sendable, Equatable, CustomStringConvertible {
    var path: String
    var line: Int?

    func key(_ name: String, line: Int?) -> ConfigLocation {
        ConfigLocation(path: path.isEmpty ? name : path + "." + name, line: line)
    }

    func index(_ i: Int, line: Int?) -> ConfigLocation {
        ConfigLocation(path: path + "[\(i)]", line: line)
    }

    /// `pools[1].selectors[0].vfs (line 14)`, or `(top level)` for the document itself.
    var description: String {
        let shown = path.isEmpty ? "(top level)" : path
        return line.map { "\(shown) (line \($0))" } ?? shown
    }

    /// `<file>: <path> (line N): <reason>`. `reason` should already say how to fix it.
    func error(_ source: String, _ reason: String, code: SRIOVError.Code = .invalidArgument) -> SRIOVError {
        SRIOVError(code, "\(source): \(self): \(reason)")
    }
}

/// Lines of the key paths seen while parsing, so that `resolve` (which runs later, against a host) can
/// still point at the line of the selector it refuses.
struct LineTable: Sendable, Equatable {
    private(set) var lines: [String: Int] = [:]

    mutating func record(_ location: ConfigLocation) {
        if let line = location.line, lines[location.path] == nil { lines[location.path] = line }
    }

    /// The location of `path`, with the line of the path itself or of its nearest recorded parent.
    func location(_ path: String) -> ConfigLocation {
        var probe = Substring(path)
        while !probe.isEmpty {
            if let line = lines[String(probe)] { return ConfigLocation(path: path, line: line) }
            guard let cut = probe.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            probe = probe[..<cut]
        }
        return ConfigLocation(path: path, line: nil)
    }
}
