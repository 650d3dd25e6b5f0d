#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore

/// The user and group database (NSS: /etc/passwd, /etc/group, LDAP...), for tenant `gids:` and the
/// socket's group.
public enum UnixAccounts {
    /// The groups of `uid`'s account (its primary group and supplementary groups), plus `gid`; just
    /// `[gid]` when the uid has no account. SO_PEERCRED carries only the caller's gid, so group
    /// membership comes from the database, as it would for a new login of that user.
    /// Library interface: `getpwuid_r(3)`, `getgrouplist(3)`.
    public static func groups(uid: UInt32, gid: UInt32) -> [UInt32] {
        var result: Set<UInt32> = [gid]
        var pwd = passwd()
        var pointer: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16384)
        guard getpwuid_r(uid, &pwd, &buffer, buffer.count, &pointer) == 0, pointer != nil, let name = pwd.pw_name else {
            return [gid]
        }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(name, pwd.pw_gid, &list, &count) < 0 {
            // Too small: count now holds the size needed.
            list = [gid_t](repeating: 0, count: Int(max(count, 1)))
            guard getgrouplist(name, pwd.pw_gid, &list, &count) >= 0 else { return Array(result).sorted() }
        }
        for g in list.prefix(Int(count)) { result.insert(g) }
        return Array(result).sorted()
    }

    /// A group name or a numeric gid, as the gid. Library interface: `getgrnam_r(3)`.
    public static func gid(ofGroup name: String) throws(SRIOVError) -> UInt32 {
        if !name.isEmpty, name.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let gid = UInt32(name) { return gid }
        var group = Glibc.group()
        var pointer: UnsafeMutablePointer<Glibc.group>?
        var buffer = [CChar](repeating: 0, count: 65536)
        let rc = getgrnam_r(name, &group, &buffer, buffer.count, &pointer)
        guard rc == 0 else {
            throw SRIOVError(.io, "cannot look up group \(Quote.shell(name)) (\(Errno.name(rc))); check /etc/nsswitch.conf and the group database",
                             cause: .errno(rc))
        }
        guard pointer != nil else {
            throw SRIOVError(.notFound, "group \(Quote.shell(name)) does not exist (`getent group \(name)` finds nothing); create it with `groupadd --system \(name)`, or fix socket_group / --socket-group")
        }
        return group.gr_gid
    }

    /// Whether this process may chown a file it owns to `gid`: root, or a member of the group.
    public static func mayChown(toGroup gid: UInt32) -> Bool {
        if geteuid() == 0 || getegid() == gid { return true }
        let n = getgroups(0, nil)
        guard n > 0 else { return false }
        var list = [gid_t](repeating: 0, count: Int(n))
        let got = getgroups(n, &list)
        return got > 0 && list.prefix(Int(got)).contains(gid)
    }
}
