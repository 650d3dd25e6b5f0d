#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore

/// The simulated host's locking, between threads and between processes, with the kernel's grain:
/// operations on different devices run at the same time, as they do on a real host, while a PF-level
/// change (VF count, autoprobe, building the tree) has the host to itself.
///
/// - `.device(stripe)`: one device's driver binding (the stripe is its IOMMU group, so everything a
///   step reads or writes about the group — members' drivers, `/dev/vfio/<group>` — is covered).
/// - `.links`: the read-modify-write of a PF's `netlink/<pf>.table` (VF settings).
/// - `.exclusive`: everything.
///
/// In the process: a readers-writer lock (device and links scopes read, exclusive writes) plus a
/// mutex per stripe. Between processes: open-file-description record locks (`F_OFD_SETLKW`) on
/// `<dir>/.lock`, one byte per stripe and the whole file for exclusive. The file stays open; it is
/// opened again once it was unlinked (the host's directory removed and built again).
final class HostLock: @unchecked Sendable {
    enum Scope {
        case exclusive
        case links
        case device(stripe: Int)
    }

    static let deviceStripes = 128
    /// Linux F_OFD_SETLKW (fcntl.h, not exported by every libc module).
    static let ofdSetLockWait: Int32 = 38

    private let rw: UnsafeMutablePointer<pthread_rwlock_t>
    /// Stripe 0 is `links`, 1... the device stripes.
    private let stripes: UnsafeMutablePointer<pthread_mutex_t>
    private let fdMutex: UnsafeMutablePointer<pthread_mutex_t>
    // Guarded by `fdMutex`.
    private var fd: Int32 = -1
    /// When the open file was last checked to still be linked (CLOCK_MONOTONIC_COARSE, ns).
    private var checkedAt: Int64 = 0
    /// Descriptors of replaced lock files: another thread may still hold a lock through one, so they
    /// are closed only with this object.
    private var retired: [Int32] = []

    init() {
        rw = .allocate(capacity: 1)
        rw.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(rw, nil)
        let count = HostLock.deviceStripes + 1
        stripes = .allocate(capacity: count)
        for i in 0..<count {
            (stripes + i).initialize(to: pthread_mutex_t())
            pthread_mutex_init(stripes + i, nil)
        }
        fdMutex = .allocate(capacity: 1)
        fdMutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(fdMutex, nil)
    }

    deinit {
        if fd >= 0 { close(fd) }
        for old in retired { close(old) }
        pthread_rwlock_destroy(rw)
        rw.deallocate()
        for i in 0...HostLock.deviceStripes { pthread_mutex_destroy(stripes + i) }
        stripes.deallocate()
        pthread_mutex_destroy(fdMutex)
        fdMutex.deallocate()
    }

    /// The stripe of a device: its IOMMU group when it has one, else its address (the same in every
    /// process, so never `hashValue`).
    static func stripe(group: Int?, address: PCIAddress) -> Int {
        if let group { return group % deviceStripes }
        return Int((UInt64(address.domain) << 16 | UInt64(address.routingID)) % UInt64(deviceStripes))
    }

    func withLock<T>(_ path: String, _ scope: Scope, _ body: () throws(SRIOVError) -> T) throws(SRIOVError) -> T {
        let slot: Int?
        switch scope {
        case .exclusive: slot = nil
        case .links: slot = 0
        case .device(let stripe): slot = 1 + (stripe % HostLock.deviceStripes + HostLock.deviceStripes) % HostLock.deviceStripes
        }
        if slot == nil { pthread_rwlock_wrlock(rw) } else { pthread_rwlock_rdlock(rw) }
        defer { pthread_rwlock_unlock(rw) }
        if let slot { pthread_mutex_lock(stripes + slot) }
        defer { if let slot { pthread_mutex_unlock(stripes + slot) } }
        let fd = try openFile(path)
        // The whole file (length 0 = to the end and beyond) or one byte per slot.
        let (start, length) = slot.map { (off_t($0), off_t(1)) } ?? (off_t(0), off_t(0))
        try record(fd, F_WRLCK, start, length, path)
        defer { try? record(fd, F_UNLCK, start, length, path) }
        return try body()
    }

    private func record(_ fd: Int32, _ type: Int32, _ start: off_t, _ length: off_t, _ path: String) throws(SRIOVError) {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = start
        lock.l_len = length
        lock.l_pid = 0
        while fcntl(fd, HostLock.ofdSetLockWait, &lock) != 0 {
            if errno != EINTR {
                throw SRIOVError(.io, "simulator: cannot lock \(path): \(Errno.name(errno))", cause: .errno(errno))
            }
        }
    }

    /// The open lock file; opened again (created if need be) once the open one was unlinked.
    private func openFile(_ path: String) throws(SRIOVError) -> Int32 {
        pthread_mutex_lock(fdMutex)
        defer { pthread_mutex_unlock(fdMutex) }
        var st = stat()
        // Still linked: the same file (a rebuilt host removes the directory, which unlinks it).
        // Checked at most every 100 ms (a clock read is a vDSO call, an fstat a syscall).
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        let nanos = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        if fd >= 0, nanos - checkedAt < 100_000_000 { return fd }
        checkedAt = nanos
        if fd >= 0, fstat(fd, &st) == 0, st.st_nlink > 0 { return fd }
        let opened = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard opened >= 0 else {
            throw SRIOVError(.io, "simulator: cannot open \(path): \(Errno.name(errno))", cause: .errno(errno))
        }
        guard fstat(opened, &st) == 0 else {
            let e = errno
            close(opened)
            throw SRIOVError(.io, "simulator: cannot stat \(path): \(Errno.name(e))", cause: .errno(e))
        }
        if fd >= 0 { retired.append(fd) }
        fd = opened
        return opened
    }
}
