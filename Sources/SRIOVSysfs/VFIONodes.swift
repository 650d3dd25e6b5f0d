#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import SRIOVCore

/// `/dev/vfio/<group>` ownership under a host's `/dev` (`HostPaths.dev`): the real one, or the
/// simulator's tree, where the node is a regular file and the same calls apply.
public struct VFIONodes: VFIONodeControl {
    public let paths: HostPaths

    public init(paths: HostPaths) { self.paths = paths }

    /// Kernel interface: `stat(2)` of `/dev/vfio/<group>`.
    public func vfioNodeOwnership(_ group: Int) throws(SRIOVError) -> VFIONodeOwnership? {
        let path = paths.vfioGroupDevice(group)
        var st = stat()
        guard stat(path, &st) == 0 else {
            let e = errno
            if e == ENOENT { return nil }
            throw SRIOVError(.io, "cannot stat \(path): \(String(cString: strerror(e)))", cause: .errno(e))
        }
        return VFIONodeOwnership(uid: st.st_uid, gid: st.st_gid, mode: UInt32(st.st_mode) & 0o7777)
    }

    /// Kernel interface: `chown(2)`, then `chmod(2)` of `/dev/vfio/<group>`.
    public func setVFIONodeOwnership(_ ownership: VFIONodeOwnership, group: Int) throws(SRIOVError) {
        let path = paths.vfioGroupDevice(group)
        guard chown(path, ownership.uid, ownership.gid) == 0 else {
            let e = errno
            throw SRIOVError(e == EPERM ? .permissionDenied : .io,
                             "cannot chown \(path) to \(ownership.uid):\(ownership.gid): \(String(cString: strerror(e)))\(e == EPERM ? " (sriovd needs CAP_CHOWN: run it as root)" : "")", cause: .errno(e))
        }
        guard chmod(path, mode_t(ownership.mode)) == 0 else {
            let e = errno
            throw SRIOVError(.io, "cannot chmod \(path) to 0\(String(ownership.mode, radix: 8)): \(String(cString: strerror(e)))", cause: .errno(e))
        }
    }
}
