#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Foundation

/// sriov-fuzz: the parsers' properties, checked two ways.
///
/// Built normally (`swift build`), it replays corpus files through every target (or those named) and
/// prints one line per target and `N passed, N failed`: a regression check (`.ci/run` runs it over
/// `Fuzz/corpus`). Built with `-sanitize=fuzzer -DSRIOV_FUZZ` (`Fuzz/run.sh`), it is a libFuzzer binary
/// fuzzing the target named by `SRIOV_FUZZ_TARGET`; its arguments are libFuzzer's.
@main
struct SRIOVFuzz {
    static func main() {
        #if SRIOV_FUZZ
        exit(FuzzDriver.run())
        #else
        exit(Replay.run(Array(CommandLine.arguments.dropFirst())))
        #endif
    }
}

#if SRIOV_FUZZ
typealias TestOneInput = @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32

/// libFuzzer's driver (libclang_rt.fuzzer, linked by `-sanitize=fuzzer`): it parses libFuzzer's flags
/// and calls the callback once per input.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: TestOneInput) -> Int32

/// The target being fuzzed, set once before the driver starts.
nonisolated(unsafe) var fuzzedTarget: FuzzTarget?

/// libFuzzer's entry point: one input through the selected target; a property that fails traps, so
/// libFuzzer saves the input as a crash.
@_cdecl("LLVMFuzzerTestOneInput")
func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard let target = fuzzedTarget else { return 0 }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do throws(FuzzFailure) {
        try target.run(bytes)
    } catch {
        fatalError("sriov-fuzz \(target.name): \(error.description)")
    }
    return 0
}

enum FuzzDriver {
    static func run() -> Int32 {
        let name = ProcessInfo.processInfo.environment["SRIOV_FUZZ_TARGET"] ?? ""
        guard let target = Targets.named(name) else {
            let names = Targets.all.map(\.name).joined(separator: ", ")
            FileHandle.standardError.write(Data("sriov-fuzz: set SRIOV_FUZZ_TARGET to one of: \(names)\n".utf8))
            return 2
        }
        fuzzedTarget = target
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput)
    }
}
#endif

/// The replay: every input file through every selected target.
enum Replay {
    static let usage = """
        usage: sriov-fuzz [--target NAME]... PATH...
               sriov-fuzz --list
        Runs each file (directories: every file below them) through each target (all of them, or those
        named by --target or SRIOV_FUZZ_TARGET=a,b) and checks the parsers' properties.
        """

    static func run(_ arguments: [String]) -> Int32 {
        var names: [String] = []
        var paths: [String] = []
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            switch a {
            case "--list":
                for t in Targets.all { print("\(t.name)\t\(t.summary)") }
                return 0
            case "--help", "-h":
                print(usage)
                return 0
            case "--target":
                guard i + 1 < arguments.count else { return fail("--target needs a name") }
                names.append(arguments[i + 1])
                i += 1
            default:
                paths.append(a)
            }
            i += 1
        }
        if names.isEmpty, let env = ProcessInfo.processInfo.environment["SRIOV_FUZZ_TARGET"], !env.isEmpty {
            names = env.split(separator: ",").map(String.init)
        }
        var targets: [FuzzTarget] = []
        for name in names {
            guard let t = Targets.named(name) else { return fail("unknown target \(name); --list shows them") }
            targets.append(t)
        }
        if targets.isEmpty { targets = Targets.all }
        guard !paths.isEmpty else { return fail("give at least one corpus file or directory") }
        var files: [String] = []
        for path in paths {
            guard let found = listFiles(path) else { return fail("\(path): no such file or directory") }
            files += found
        }
        var inputs: [(path: String, bytes: [UInt8])] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else { return fail("\(file): cannot read it") }
            inputs.append((file, Array(data)))
        }
        var passed = 0
        var failed = 0
        for target in targets {
            var bad = 0
            var accepted = 0
            for input in inputs {
                Tally.accepted = false
                defer { if Tally.accepted { accepted += 1 } }
                do throws(FuzzFailure) {
                    try target.run(input.bytes)
                    passed += 1
                } catch {
                    bad += 1
                    failed += 1
                    print("FAIL \(target.name) \(input.path): \(error.description)")
                }
            }
            print("\(target.name): \(inputs.count) inputs, \(accepted) accepted by the parser, \(bad == 0 ? "every property held" : "\(bad) failed")")
        }
        print("sriov-fuzz: \(passed) passed, \(failed) failed")
        return failed == 0 ? 0 : 1
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("sriov-fuzz: \(message)\n\(usage)\n".utf8))
        return 64
    }

    /// The file itself, or every regular file below a directory (sorted, hidden files skipped).
    static func listFiles(_ path: String) -> [String]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        guard isDirectory.boolValue else { return [path] }
        guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
        var files: [String] = []
        for case let relative as String in walker {
            if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
            let full = path + "/" + relative
            var dir: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &dir), !dir.boolValue { files.append(full) }
        }
        return files.sorted()
    }
}
