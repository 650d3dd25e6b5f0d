#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVSysfs

enum StateDirectory {
    /// Creates the state directory (and parents) with mode 0750 if it is missing.
    static func ensure(_ path: String) throws(SRIOVError) {
        if FileSystem.isDirectory(path) { return }
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o750) != 0 && errno != EEXIST {
                let e = errno
                throw SRIOVError(e == EACCES || e == EPERM || e == EROFS ? .permissionDenied : .io,
                                 "cannot create the state directory \(Quote.shell(path)) (\(Errno.name(e)) at \(current)); run as root or pass --state-dir with a writable directory",
                                 cause: .errno(e))
            }
        }
        guard FileSystem.isDirectory(path) else {
            throw SRIOVError(.io, "state directory \(Quote.shell(path)) is not a directory; pass --state-dir with a directory")
        }
    }
}
