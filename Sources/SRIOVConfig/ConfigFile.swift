#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SRIOVCore

/// Reads the config file as UTF-8 text, with errno kept for the caller.
enum ConfigFile {
    /// Larger than any sane config; a bigger file is almost certainly the wrong file.
    static let maxBytes = 4 << 20

    static func read(_ path: String) throws(SRIOVError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw openError(path, errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SRIOVError(.io, "\(path): cannot stat the config file", cause: .errno(errno)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw SRIOVError(.invalidArgument, "\(path) is not a regular file; --config needs the path of a YAML file such as \(SRIOVConfig.defaultPath)")
        }
        var bytes: [UInt8] = []
        // Sized from the file (a config is a few KB; one byte over, so the whole file fits in the first
        // read and the next one sees EOF): a fixed 64 KiB buffer cost each `--direct` process ~60K
        // instructions for a file of a few hundred bytes (callgrind).
        var chunk = [UInt8](repeating: 0, count: min(max(Int(st.st_size) + 1, 512), 64 << 10))
        while true {
            let n = chunk.withUnsafeMutableBytes { readSome(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SRIOVError(.io, "\(path): cannot read the config file", cause: .errno(errno))
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            guard bytes.count <= maxBytes else {
                throw SRIOVError(.invalidArgument, "\(path) is larger than \(maxBytes >> 20) MiB; that is not an sriovd config")
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SRIOVError(.corrupt, "\(path) is not UTF-8 text; save it as UTF-8")
        }
        return text
    }

    static func openError(_ path: String, _ e: Int32) -> SRIOVError {
        switch e {
        case ENOENT, ENOTDIR:
            return SRIOVError(.notFound, "\(path): no such config file; create it (see Config/sriovd.yaml for a commented sample) or pass --config <path>", cause: .errno(e))
        case EACCES, EPERM:
            return SRIOVError(.permissionDenied, "\(path): permission denied reading the config file; run as root or make it readable", cause: .errno(e))
        default:
            return SRIOVError(.io, "\(path): cannot open the config file", cause: .errno(e))
        }
    }
}

/// `read(2)`, named apart from `ConfigFile.read`.
private func readSome(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.read(fd, buffer, count)
    #else
    Darwin.read(fd, buffer, count)
    #endif
}
