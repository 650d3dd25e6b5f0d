import Foundation

/// A temporary directory removed when the value is deinitialised.
public final class TempDirectory: @unchecked Sendable {
    public let path: String

    public init(_ prefix: String = "sriovd-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        var template = Array("\(base)/\(prefix)-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw CocoaError(.fileWriteUnknown) }
        path = String(cString: made)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ relative: String, _ contents: String) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try contents.write(toFile: full, atomically: false, encoding: .utf8)
    }

    public func dir(_ relative: String) throws {
        try FileManager.default.createDirectory(atPath: path + "/" + relative, withIntermediateDirectories: true)
    }

    public func link(_ relative: String, to target: String) throws {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: full)
        try FileManager.default.createSymbolicLink(atPath: full, withDestinationPath: target)
    }

    public func read(_ relative: String) -> String? {
        try? String(contentsOfFile: path + "/" + relative, encoding: .utf8)
    }

    public func exists(_ relative: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/" + relative)
    }
}

/// A hand-built sysfs tree (not the simulator's), so discovery is tested against an independent layout.
public struct SysfsFixture {
    public let dir: TempDirectory
    public var sys: String { dir.path + "/sys" }
    public var proc: String { dir.path + "/proc" }

    public init() throws {
        dir = try TempDirectory("sysfs-fixture")
        try dir.dir("sys/bus/pci/devices")
        try dir.dir("sys/bus/pci/drivers")
        try dir.dir("sys/kernel/iommu_groups")
        try dir.dir("sys/class/net")
        try dir.file("proc/cmdline", "ro intel_iommu=on\n")
        try dir.file("proc/net/route", "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n")
        try dir.file("proc/net/ipv6_route", "")
    }

    /// A PCI device under sys/devices/pci0000:00 with its bus link and basic attributes.
    public func device(_ bdf: String, vendor: String = "0x8086", device: String = "0x1593", numa: String? = "0",
                       driver: String? = nil, group: Int? = nil, classCode: String = "0x020000") throws {
        let d = "sys/devices/pci0000:00/\(bdf)"
        try dir.file("\(d)/vendor", vendor + "\n")
        try dir.file("\(d)/device", device + "\n")
        try dir.file("\(d)/class", classCode + "\n")
        if let numa { try dir.file("\(d)/numa_node", numa + "\n") }
        try dir.link("sys/bus/pci/devices/\(bdf)", to: "../../../devices/pci0000:00/\(bdf)")
        if let driver {
            try dir.dir("sys/bus/pci/drivers/\(driver)")
            try dir.link("\(d)/driver", to: "../../../bus/pci/drivers/\(driver)")
        }
        if let group {
            try dir.link("sys/kernel/iommu_groups/\(group)/devices/\(bdf)", to: "../../../../devices/pci0000:00/\(bdf)")
            try dir.link("\(d)/iommu_group", to: "../../../kernel/iommu_groups/\(group)")
        }
    }

    public func pf(_ bdf: String, numVFs: Int, totalVFs: Int, autoprobe: Bool = true) throws {
        let d = "sys/devices/pci0000:00/\(bdf)"
        try dir.file("\(d)/sriov_numvfs", "\(numVFs)\n")
        try dir.file("\(d)/sriov_totalvfs", "\(totalVFs)\n")
        try dir.file("\(d)/sriov_drivers_autoprobe", autoprobe ? "1\n" : "0\n")
    }

    public func vf(_ bdf: String, of pf: String, index: Int) throws {
        try dir.link("sys/devices/pci0000:00/\(pf)/virtfn\(index)", to: "../\(bdf)")
        try dir.link("sys/devices/pci0000:00/\(bdf)/physfn", to: "../\(pf)")
    }

    public func netdev(_ name: String, of bdf: String, operstate: String = "up") throws {
        let d = "sys/devices/pci0000:00/\(bdf)/net/\(name)"
        try dir.file("\(d)/operstate", operstate + "\n")
        try dir.link("\(d)/device", to: "../../../\(bdf)")
        try dir.link("sys/class/net/\(name)", to: "../../devices/pci0000:00/\(bdf)/net/\(name)")
    }
}
