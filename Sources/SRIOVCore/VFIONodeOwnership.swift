#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Owner, group and permission bits of a VFIO group's device node (`/dev/vfio/<group>`).
public struct VFIONodeOwnership: Sendable, Codable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// Permission bits only (`0o600`, `0o660`).
    public var mode: UInt32

    public init(uid: UInt32, gid: UInt32, mode: UInt32) {
        self.uid = uid
        self.gid = gid
        self.mode = mode & 0o7777
    }

    /// "uid 107 gid 107 mode 0660" for messages.
    public var description: String {
        "uid \(uid) gid \(gid) mode 0\(String(mode, radix: 8))"
    }
}

/// Who may open a VFIO group's device node: what lets an unprivileged QEMU or cloud-hypervisor use a
/// lease (issue 14, item 3). Implemented by `SRIOVSysfs.VFIONodes` over a host's `/dev` (the real one,
/// or the simulator's tree, where the node is a regular file), and in memory by the tests' `FakeHost`.
public protocol VFIONodeControl: Sendable {
    /// The node's owner, group and mode now; nil when the node does not exist.
    ///
    /// Kernel interface: `stat(2)` of `/dev/vfio/<group>`.
    func vfioNodeOwnership(_ group: Int) throws(SRIOVError) -> VFIONodeOwnership?
    /// Sets the node's owner, group and mode.
    ///
    /// Kernel interface: `chown(2)` and `chmod(2)` of `/dev/vfio/<group>`.
    func setVFIONodeOwnership(_ ownership: VFIONodeOwnership, group: Int) throws(SRIOVError)
}

/// A user or group a lease request names: a number, or a name this host's account database resolves.
public enum DeviceAccount {
    /// The uid of `text` (digits: taken as they are; else a user name looked up with getpwnam_r).
    public static func uid(_ text: String) throws(SRIOVError) -> UInt32 {
        if let n = number(text) { return n }
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getpwnam_r(text, &entry, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else {
            throw SRIOVError(.notFound, "no user named \(Quote.shell(text)) on this host (`getent passwd \(text)`); give an existing user or a numeric uid")
        }
        return entry.pw_uid
    }

    /// The gid of `text` (digits: taken as they are; else a group name looked up with getgrnam_r).
    public static func gid(_ text: String) throws(SRIOVError) -> UInt32 {
        if let n = number(text) { return n }
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16384)
        let rc = getgrnam_r(text, &entry, &buffer, buffer.count, &result)
        guard rc == 0, result != nil else {
            throw SRIOVError(.notFound, "no group named \(Quote.shell(text)) on this host (`getent group \(text)`); give an existing group or a numeric gid")
        }
        return entry.gr_gid
    }

    /// Checks the shape of a user or group given in a request: a number of 1-9 digits, or a POSIX-style
    /// name of 1-32 characters (the API's pattern `^([0-9]{1,9}|[a-z_][a-z0-9_-]{0,31})$`).
    public static func check(_ text: String, what: String) throws(SRIOVError) {
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard text.utf8.count <= 9 else {
                throw SRIOVError(.invalidArgument, "invalid \(what) \(Quote.shell(text)): a numeric id has at most 9 digits; name the account instead")
            }
            return
        }
        let bytes = Array(text.utf8)
        let first = bytes.first
        guard (1...32).contains(bytes.count), let first, (first >= 0x61 && first <= 0x7a) || first == 0x5f,
              bytes.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5f || $0 == 0x2d }) else {
            throw SRIOVError(.invalidArgument, "invalid \(what) \(Quote.shell(text)): give a numeric id or a name of 1-32 lower-case letters, digits, '_' or '-' starting with a letter or '_' (such as libvirt-qemu)")
        }
    }

    static func number(_ text: String) -> UInt32? {
        guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let n = UInt64(text), n < UInt64(UInt32.max) else { return nil }
        return UInt32(n)
    }
}
