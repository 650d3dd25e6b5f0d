import SRIOVCore
import Yams

/// Yams' parser behind a typed error: syntax errors become `.corrupt` with the file, line and column.
///
/// Composed with Yams' basic resolver (no implicit tags): `YAMLValue` reads every scalar itself, as
/// written (`int`, `bool`, `isNull` look at the text and its quoting, never at a resolved tag), and the
/// default resolver's rules are regular expressions that ICU compiles on first use, ~9 million
/// instructions per process: most of what reading a short sriovd.yaml cost a `sriovctl --direct`. The
/// parser is also given its encoding and an empty constructor: composing never constructs values, and
/// the defaults read the whole environment (`YAMS_DEFAULT_ENCODING`) and build Yams' tag tables, ~0.9M
/// instructions together.
enum YAMLSyntax {
    static func compose(_ yaml: String, source: String) throws(SRIOVError) -> Node? {
        do {
            return try Parser(yaml: yaml, resolver: .basic, constructor: Constructor([:], [:], [:]), encoding: .utf8).singleRoot()
        } catch let error as YamlError {
            throw describe(error, source: source)
        } catch {
            throw SRIOVError(.corrupt, "\(source): cannot parse the YAML: \(error)", cause: .other(String(describing: error)))
        }
    }

    static func describe(_ error: YamlError, source: String) -> SRIOVError {
        let fix = "fix the YAML syntax (indent with spaces, not tabs; quote values that contain ': ' or start with '#')"
        func at(_ mark: Mark) -> String { "line \(mark.line), column \(mark.column)" }
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let what = context.map { "\($0.text) (\(at($0.mark))): " } ?? ""
            return SRIOVError(.corrupt, "\(source) (\(at(mark))): YAML syntax error: \(what)\(problem); \(fix)",
                              cause: .other(problem))
        case .reader(let problem, _, _, _):
            return SRIOVError(.corrupt, "\(source): cannot read the YAML: \(problem); save the file as UTF-8 text",
                              cause: .other(problem))
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { Quote.shell($0) }.joined(separator: ", ")
            return SRIOVError(.invalidArgument, "\(source) (line \(context.mark.line)): key \(keys) appears more than once in the same mapping; keep one (YAML would silently drop the other)")
        default:
            return SRIOVError(.corrupt, "\(source): cannot parse the YAML: \(error); \(fix)", cause: .other("\(error)"))
        }
    }
}
