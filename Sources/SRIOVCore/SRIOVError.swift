/// The one public error type of sriovd's libraries: what failed, on which device, and what to do.
///
/// `message` is written for an operator and already names the device and the remedy; `cause` keeps the
/// low-level reason typed (an errno is not a libnl code) so callers can map it without parsing text.
public struct SRIOVError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The input (a CLI argument, a file, a request field) is malformed or out of range.
        case invalidArgument = "invalid-argument"
        /// The named device, PF, VF, pool or lease does not exist.
        case notFound = "not-found"
        /// The kernel or the simulated kernel refused the operation.
        case kernelRefused = "kernel-refused"
        /// The driver does not support the operation at all.
        case unsupported = "unsupported"
        /// The device is busy or the state does not allow the change now.
        case busy = "busy"
        /// The operation would touch something protected (the management NIC).
        case protected = "protected"
        /// Not allowed for this caller, or the file system said EACCES/EPERM.
        case permissionDenied = "permission-denied"
        /// The caller's tenant may not do this (another tenant's pool or lease, a right it lacks, an admin route).
        case forbidden = "forbidden"
        /// The caller's tenant would exceed its quota (max_leases, max_vfs).
        case quotaExceeded = "quota-exceeded"
        /// The caller could not be identified (no bearer token, or an unknown one, on TCP).
        case unauthenticated = "unauthenticated"
        /// Reading or writing a file failed.
        case io = "io"
        /// Stored data (a journal, a state file) is damaged.
        case corrupt = "corrupt"
        /// A wait ran out.
        case timeout = "timeout"
        /// What was written did not read back as written.
        case verificationFailed = "verification-failed"
    }

    /// The low-level reason, kept typed.
    public enum Cause: Sendable, Equatable, CustomStringConvertible {
        /// A POSIX errno (from a syscall or from the kernel's netlink ack).
        case errno(Int32)
        /// A libnl `NLE_*` code (positive value), which is not an errno.
        case netlink(Int32, String)
        /// Anything else, as text.
        case other(String)

        public var description: String {
            switch self {
            case .errno(let e): return "errno \(e) (\(Errno.name(e)))"
            case .netlink(let c, let text): return "libnl error \(c): \(text)"
            case .other(let s): return s
            }
        }
    }

    public var code: Code
    public var message: String
    public var cause: Cause?

    public init(_ code: Code, _ message: String, cause: Cause? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { message }

    /// The errno carried by the cause, if any.
    public var errno: Int32? {
        if case .errno(let e) = cause { return e }
        return nil
    }
}

/// Names for the errno values sriovd explains; the numbers are Linux's (asm-generic/errno-base.h, errno.h).
public enum Errno {
    public static let EPERM: Int32 = 1
    public static let ENOENT: Int32 = 2
    public static let EINTR: Int32 = 4
    public static let EIO: Int32 = 5
    public static let ENXIO: Int32 = 6
    public static let E2BIG: Int32 = 7
    public static let EBADF: Int32 = 9
    public static let EAGAIN: Int32 = 11
    public static let ENOMEM: Int32 = 12
    public static let EACCES: Int32 = 13
    public static let EFAULT: Int32 = 14
    public static let EBUSY: Int32 = 16
    public static let EEXIST: Int32 = 17
    public static let EXDEV: Int32 = 18
    public static let ENODEV: Int32 = 19
    public static let ENOTDIR: Int32 = 20
    public static let EISDIR: Int32 = 21
    public static let EINVAL: Int32 = 22
    public static let ENFILE: Int32 = 23
    public static let EMFILE: Int32 = 24
    public static let ENOSPC: Int32 = 28
    public static let EROFS: Int32 = 30
    public static let EPIPE: Int32 = 32
    public static let ERANGE: Int32 = 34
    public static let ENAMETOOLONG: Int32 = 36
    public static let ENOSYS: Int32 = 38
    public static let ENOTEMPTY: Int32 = 39
    public static let ELOOP: Int32 = 40
    public static let ENODATA: Int32 = 61
    public static let EPROTO: Int32 = 71
    public static let EOVERFLOW: Int32 = 75
    public static let ENOTSOCK: Int32 = 88
    public static let EMSGSIZE: Int32 = 90
    public static let EPROTONOSUPPORT: Int32 = 93
    public static let ENOTSUP: Int32 = 95
    public static let EOPNOTSUPP: Int32 = 95
    public static let EADDRINUSE: Int32 = 98
    public static let ENETDOWN: Int32 = 100
    public static let ECONNABORTED: Int32 = 103
    public static let ECONNRESET: Int32 = 104
    public static let ENOBUFS: Int32 = 105
    public static let ENOTCONN: Int32 = 107
    public static let ETIMEDOUT: Int32 = 110
    public static let ECONNREFUSED: Int32 = 111
    public static let EDQUOT: Int32 = 122

    /// The symbolic name of an errno, as the kernel headers spell it.
    public static func name(_ e: Int32) -> String {
        switch e {
        case EPERM: return "EPERM"
        case ENOENT: return "ENOENT"
        case EINTR: return "EINTR"
        case EIO: return "EIO"
        case ENXIO: return "ENXIO"
        case E2BIG: return "E2BIG"
        case EBADF: return "EBADF"
        case EAGAIN: return "EAGAIN"
        case ENOMEM: return "ENOMEM"
        case EACCES: return "EACCES"
        case EFAULT: return "EFAULT"
        case EBUSY: return "EBUSY"
        case EEXIST: return "EEXIST"
        case EXDEV: return "EXDEV"
        case ENODEV: return "ENODEV"
        case ENOTDIR: return "ENOTDIR"
        case EISDIR: return "EISDIR"
        case EINVAL: return "EINVAL"
        case ENFILE: return "ENFILE"
        case EMFILE: return "EMFILE"
        case ENOSPC: return "ENOSPC"
        case EROFS: return "EROFS"
        case EPIPE: return "EPIPE"
        case ERANGE: return "ERANGE"
        case ENAMETOOLONG: return "ENAMETOOLONG"
        case ENOSYS: return "ENOSYS"
        case ENOTEMPTY: return "ENOTEMPTY"
        case ELOOP: return "ELOOP"
        case ENODATA: return "ENODATA"
        case EPROTO: return "EPROTO"
        case EOVERFLOW: return "EOVERFLOW"
        case ENOTSOCK: return "ENOTSOCK"
        case EMSGSIZE: return "EMSGSIZE"
        case EPROTONOSUPPORT: return "EPROTONOSUPPORT"
        case EOPNOTSUPP: return "EOPNOTSUPP"
        case EADDRINUSE: return "EADDRINUSE"
        case ENETDOWN: return "ENETDOWN"
        case ECONNABORTED: return "ECONNABORTED"
        case ECONNRESET: return "ECONNRESET"
        case ENOBUFS: return "ENOBUFS"
        case ENOTCONN: return "ENOTCONN"
        case ETIMEDOUT: return "ETIMEDOUT"
        case ECONNREFUSED: return "ECONNREFUSED"
        case EDQUOT: return "EDQUOT"
        default: return "E#\(e)"
        }
    }
}

extension SRIOVError.Code {
    /// The process exit status for this code (sysexits.h), the one map `sriovctl` and `sriovd` share:
    /// 64 bad input, 65 damaged data, 66 not found, 69 unsupported, 74 I/O, 75 busy or timed out,
    /// 77 not permitted, 1 anything the kernel or a read-back refused.
    public var exitStatus: Int32 {
        switch self {
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
}
