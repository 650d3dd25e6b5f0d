#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import SRIOVCore

/// The one place where library errors become a message on stderr and an exit code.
enum ErrorReporting {
    /// Runs `body`; an `SRIOVError` is printed as `sriovctl: error: ...` and exits with its code.
    static func run(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let error as SRIOVError {
            throw report(error)
        }
    }

    static func run(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as SRIOVError {
            throw report(error)
        }
    }

    static func report(_ error: SRIOVError) -> ExitCode {
        Output.error("sriovctl: error: \(error.message)")
        return ExitCode(error.code.exitStatus)
    }
}

/// Where text goes.
enum Output {
    static func line(_ text: String) { print(text) }

    static func error(_ text: String) {
        var stderr = StandardError()
        print(text, to: &stderr)
    }
}

struct StandardError: TextOutputStream {
    mutating func write(_ string: String) {
        var s = string
        s.withUTF8 { buf in _ = Glibc.write(2, buf.baseAddress, buf.count) }
    }
}

