#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import SRIOVCore

/// The one place where library errors become a message on stderr and an exit code.
enum ErrorReporting {
    static func exitCode(for code: SRIOVError.Code) -> Int32 {
        switch code {
        case .invalidArgument: return 64      // EX_USAGE
        case .corrupt: return 65              // EX_DATAERR
        case .notFound: return 66             // EX_NOINPUT
        case .unsupported: return 69          // EX_UNAVAILABLE
        case .io: return 74                   // EX_IOERR
        case .busy, .timeout: return 75       // EX_TEMPFAIL
        case .permissionDenied, .protected, .forbidden, .quotaExceeded, .unauthenticated: return 77  // EX_NOPERM
        case .kernelRefused, .verificationFailed: return 1
        }
    }

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
        return ExitCode(exitCode(for: error.code))
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

