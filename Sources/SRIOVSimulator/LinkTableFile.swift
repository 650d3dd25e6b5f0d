#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVSysfs
import Synchronization

/// One PF's simulated netlink state as a fixed-layout table mapped shared (`MAP_SHARED`) by every
/// process that opens the simulated host: a VF setting is a store into the mapping, a read is a load,
/// and neither costs a system call. The file outlives the processes, like kernel state outlives
/// sriovd.
///
/// Layout (little-endian):
/// - header, 64 bytes: magic `SRIOVNL1` (0), VF count u32 (8), link up u8 (12), retired u8 (13),
///   generation u64 (16, bumped after every VF write), PF PCI address, ASCII, NUL-padded (24..<40).
/// - per VF, 64 bytes: version u32 (0), two slots of 28 bytes (8 and 36).
///
/// A VF write (under the links lock, so one writer at a time) fills the slot not in use, then stores
/// version + 1, whose low bit names the slot in use: that one aligned store commits the change, so a
/// process killed at any point leaves the old or the new settings, never a mix. A reader loads the
/// version, copies the slot it names, and loads the version again; if it moved, a writer may have
/// reused that slot meanwhile, and it reads again. A table is replaced (VF count change) by writing a
/// new file and renaming it over the old one, whose `retired` flag then sends readers to the new one.
final class LinkTableFile: @unchecked Sendable {
    static let magic: [UInt8] = Array("SRIOVNL1".utf8)
    static let headerSize = 64
    static let recordSize = 64
    static let slotSize = 28
    /// Header fields read or written after the table is made (the layout above).
    static let retiredOffset = 13
    static let generationOffset = 16

    let path: String
    let base: UnsafeMutableRawPointer
    let size: Int
    let fd: Int32
    let vfCount: Int
    let pf: PCIAddress
    let up: Bool
    /// When the file was last checked to still be linked (CLOCK_MONOTONIC_COARSE, ns).
    let checkedAt = Atomic<Int64>(0)
    /// The last full read and the generation it was read at.
    private let cached = Mutex<(generation: UInt64, link: LinkTable.PFLink)?>(nil)

    private init(path: String, base: UnsafeMutableRawPointer, size: Int, fd: Int32, vfCount: Int, pf: PCIAddress, up: Bool) {
        self.path = path
        self.base = base
        self.size = size
        self.fd = fd
        self.vfCount = vfCount
        self.pf = pf
        self.up = up
    }

    deinit {
        munmap(base, size)
        close(fd)
    }

    /// Maps the table at `path`; nil if there is no file.
    static func open(_ path: String) throws(SRIOVError) -> LinkTableFile? {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw SRIOVError(.io, "simulator: cannot open \(path): \(Errno.name(errno))", cause: .errno(errno))
        }
        func damaged(_ why: String) -> SRIOVError {
            close(fd)
            return SRIOVError(.corrupt, "\(path) is damaged (\(why)); delete the simulated host's directory to rebuild it")
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw SRIOVError(.io, "simulator: cannot stat \(path): \(Errno.name(e))", cause: .errno(e))
        }
        let size = Int(st.st_size)
        guard size >= headerSize else { throw damaged("\(size) bytes, shorter than its header") }
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            let e = errno
            close(fd)
            throw SRIOVError(.io, "simulator: cannot map \(path): \(Errno.name(e))", cause: .errno(e))
        }
        let base = UnsafeMutableRawPointer(mapped)
        let header = UnsafeRawBufferPointer(start: base, count: headerSize)
        let count = Int(base.loadUnaligned(fromByteOffset: 8, as: UInt32.self).littleEndian)
        let address = String(decoding: header[24..<40].prefix { $0 != 0 }, as: UTF8.self)
        guard Array(header[0..<8]) == magic, size == headerSize + count * recordSize, let pf = PCIAddress(address) else {
            munmap(mapped, size)
            throw damaged("not a \(String(decoding: magic, as: UTF8.self)) table of its size")
        }
        return LinkTableFile(path: path, base: base, size: size, fd: fd, vfCount: count, pf: pf,
                             up: base.load(fromByteOffset: 12, as: UInt8.self) != 0)
    }

    /// The whole file for `link`, every VF in slot 0 with version 0.
    static func encode(_ link: LinkTable.PFLink) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: headerSize + link.vfs.count * recordSize)
        bytes.withUnsafeMutableBytes { raw in
            let p = raw.baseAddress!
            for (i, b) in magic.enumerated() { p.storeBytes(of: b, toByteOffset: i, as: UInt8.self) }
            p.storeBytes(of: UInt32(link.vfs.count).littleEndian, toByteOffset: 8, as: UInt32.self)
            p.storeBytes(of: link.up ? 1 : 0, toByteOffset: 12, as: UInt8.self)
            for (i, b) in link.pf.description.utf8.prefix(16).enumerated() { p.storeBytes(of: b, toByteOffset: 24 + i, as: UInt8.self) }
            for (i, vf) in link.vfs.enumerated() { store(vf, at: p + headerSize + i * recordSize + 8) }
        }
        return bytes
    }

    var retired: Bool { atomicLoad8(base + LinkTableFile.retiredOffset) != 0 }

    func markRetired() {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        base.storeBytes(of: 1, toByteOffset: LinkTableFile.retiredOffset, as: UInt8.self)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Still the file at its path: not retired, and (checked every 100 ms, an fstat) not unlinked.
    func isCurrent(now: Int64) -> Bool {
        guard !retired else { return false }
        if now - checkedAt.load(ordering: .relaxed) < 100_000_000 { return true }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_nlink > 0 else { return false }
        checkedAt.store(now, ordering: .relaxed)
        return true
    }

    private var generation: UInt64 {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let g = base.load(fromByteOffset: LinkTableFile.generationOffset, as: UInt64.self)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return g
    }

    /// The PF's link and every VF's settings as one consistent copy per VF.
    func read() -> LinkTable.PFLink {
        let before = generation
        if let hit = cached.withLock({ $0 }), hit.generation == before { return hit.link }
        var vfs: [VFState] = []
        vfs.reserveCapacity(vfCount)
        for i in 0..<vfCount { vfs.append(readVF(i)) }
        let link = LinkTable.PFLink(pf: pf, up: up, vfs: vfs)
        if generation == before { cached.withLock { $0 = (before, link) } }
        return link
    }

    /// One VF, retried while a writer reused the slot being copied.
    func readVF(_ i: Int) -> VFState {
        let record = base + LinkTableFile.headerSize + i * LinkTableFile.recordSize
        while true {
            let v1 = atomicLoad32(record)
            let state = LinkTableFile.load(record + 8 + Int(v1 & 1) * LinkTableFile.slotSize)
            if atomicLoad32(record) == v1 { return state }
        }
    }

    /// The same PF, link and VF count: `write` can update it in place.
    func fits(_ link: LinkTable.PFLink) -> Bool {
        link.pf == pf && link.up == up && link.vfs.count == vfCount
    }

    /// Writes the VFs that differ from the table (the caller holds the links or host lock).
    func write(_ link: LinkTable.PFLink) {
        var changed = false
        for (i, vf) in link.vfs.enumerated() where readVF(i) != vf {
            let record = base + LinkTableFile.headerSize + i * LinkTableFile.recordSize
            let v = atomicLoad32(record)
            LinkTableFile.store(vf, at: record + 8 + Int((v &+ 1) & 1) * LinkTableFile.slotSize)
            atomicMemoryFence(ordering: .sequentiallyConsistent)
            record.storeBytes(of: v &+ 1, as: UInt32.self)
            changed = true
        }
        guard changed else { return }
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let offset = LinkTableFile.generationOffset
        base.storeBytes(of: base.load(fromByteOffset: offset, as: UInt64.self) &+ 1, toByteOffset: offset, as: UInt64.self)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    private func atomicLoad32(_ p: UnsafeMutableRawPointer) -> UInt32 {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let v = p.load(as: UInt32.self)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return v
    }

    private func atomicLoad8(_ p: UnsafeMutableRawPointer) -> UInt8 {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let v = p.load(as: UInt8.self)
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return v
    }

    // MARK: One slot: index u32 (0), MAC (4), VLAN id u16 (10), QoS u8 (12), protocol u8 (13: 0 802.1Q,
    // 1 802.1ad), spoof check, trust, link state, query RSS i8 (14-17: -1 unreported; state 0 auto,
    // 1 enable, 2 disable), min and max tx rate u32 (20, 24).

    static func store(_ vf: VFState, at p: UnsafeMutableRawPointer) {
        func flag(_ b: Bool?) -> Int8 { b.map { $0 ? 1 : 0 } ?? -1 }
        p.storeBytes(of: UInt32(truncatingIfNeeded: vf.index).littleEndian, toByteOffset: 0, as: UInt32.self)
        for i in 0..<6 { p.storeBytes(of: vf.mac.octet(i), toByteOffset: 4 + i, as: UInt8.self) }
        p.storeBytes(of: UInt16(truncatingIfNeeded: vf.vlan.id).littleEndian, toByteOffset: 10, as: UInt16.self)
        p.storeBytes(of: UInt8(truncatingIfNeeded: vf.vlan.qos), toByteOffset: 12, as: UInt8.self)
        p.storeBytes(of: vf.vlan.proto == .dot1AD ? 1 : 0, toByteOffset: 13, as: UInt8.self)
        p.storeBytes(of: flag(vf.spoofCheck), toByteOffset: 14, as: Int8.self)
        p.storeBytes(of: flag(vf.trust), toByteOffset: 15, as: Int8.self)
        let state: Int8 = switch vf.linkState { case .auto: 0; case .enable: 1; case .disable: 2; case nil: -1 }
        p.storeBytes(of: state, toByteOffset: 16, as: Int8.self)
        p.storeBytes(of: flag(vf.queryRSS), toByteOffset: 17, as: Int8.self)
        p.storeBytes(of: vf.minTxRate.littleEndian, toByteOffset: 20, as: UInt32.self)
        p.storeBytes(of: vf.maxTxRate.littleEndian, toByteOffset: 24, as: UInt32.self)
    }

    static func load(_ p: UnsafeMutableRawPointer) -> VFState {
        func flag(_ offset: Int) -> Bool? {
            let v = p.load(fromByteOffset: offset, as: Int8.self)
            return v < 0 ? nil : v != 0
        }
        let mac = (0..<6).reduce(UInt64(0)) { $0 << 8 | UInt64(p.load(fromByteOffset: 4 + $1, as: UInt8.self)) }
        let id = Int(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 10, as: UInt16.self)))
        let qos = Int(p.load(fromByteOffset: 12, as: UInt8.self))
        let proto: VLANProtocol = p.load(fromByteOffset: 13, as: UInt8.self) == 1 ? .dot1AD : .dot1Q
        let state: VFLinkState? = switch p.load(fromByteOffset: 16, as: Int8.self) {
        case 0: .auto
        case 1: .enable
        case 2: .disable
        default: nil
        }
        // Only this table's writer stores these fields, from values that were valid; a slot that was
        // never written (all zero) reads as a fresh VF.
        return VFState(index: Int(UInt32(littleEndian: p.load(fromByteOffset: 0, as: UInt32.self))),
                       mac: MACAddress(value: mac),
                       vlan: (try? VLAN(id: id, qos: qos, proto: proto)) ?? .none,
                       spoofCheck: flag(14), trust: flag(15), linkState: state,
                       minTxRate: UInt32(littleEndian: p.load(fromByteOffset: 20, as: UInt32.self)),
                       maxTxRate: UInt32(littleEndian: p.load(fromByteOffset: 24, as: UInt32.self)),
                       queryRSS: flag(17))
    }
}

/// The tables this process has mapped, by path. A replaced or removed table stays mapped until the
/// host object goes (another thread may still be reading it).
final class LinkTables: Sendable {
    private struct State {
        var current: [String: LinkTableFile] = [:]
        var retired: [LinkTableFile] = []
    }
    private let state = Mutex(State())

    /// The table at `path`, mapped once and mapped again when it was replaced; nil if there is none.
    func table(_ path: String) throws(SRIOVError) -> LinkTableFile? {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
        let nanos = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        if let table = state.withLock({ $0.current[path] }), table.isCurrent(now: nanos) { return table }
        let opened = try LinkTableFile.open(path)
        opened?.checkedAt.store(nanos, ordering: .relaxed)
        state.withLock { s in
            if let old = s.current.removeValue(forKey: path) { s.retired.append(old) }
            if let opened { s.current[path] = opened }
        }
        return opened
    }

    /// Writes a new table for `link` (temp file, rename) and retires the one it replaces. The caller
    /// holds the host lock.
    func replace(_ path: String, with link: LinkTable.PFLink) throws(SRIOVError) {
        let old = try? table(path)
        let tmp = path + ".tmp"
        let bytes = LinkTableFile.encode(link)
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SRIOVError(.io, "simulator: cannot write \(tmp): \(Errno.name(errno))", cause: .errno(errno))
        }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else {
            throw SRIOVError(.io, "simulator: short write to \(tmp)", cause: .errno(errno))
        }
        guard rename(tmp, path) == 0 else {
            throw SRIOVError(.io, "simulator: cannot replace \(path): \(Errno.name(errno))", cause: .errno(errno))
        }
        old?.markRetired()
    }

    /// Marks every table in `directory` retired (it is about to be removed and built again), in the
    /// file, so every process that mapped one moves to the new one.
    func retireAll(in directory: String) {
        for file in FileSystem.list(directory) ?? [] where file.hasSuffix(".table") {
            let fd = open(directory + "/" + file, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else { continue }
            var one: UInt8 = 1
            _ = pwrite(fd, &one, 1, off_t(LinkTableFile.retiredOffset))
            close(fd)
        }
        state.withLock { s in
            s.retired += s.current.values
            s.current = [:]
        }
    }

    /// Removes the table at `path` (its PF has no netdev any more). The caller holds the host lock.
    func remove(_ path: String) {
        let old = try? table(path)
        unlink(path)
        old?.markRetired()
    }
}
