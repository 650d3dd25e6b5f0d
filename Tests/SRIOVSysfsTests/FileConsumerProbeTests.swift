#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import SRIOVCore
import SRIOVSysfs
import SRIOVTestSupport

/// The consumer probe over a tree laid out like the simulator's (proc/, sys/fs/cgroup/, run/libvirt/qemu/),
/// and over this machine's own /proc.
@Suite("File consumer probe")
struct FileConsumerProbeTests {
    let dir: TempDirectory
    let probe: FileConsumerProbe

    init() throws {
        dir = try TempDirectory("consumers")
        probe = FileConsumerProbe(root: dir.path)
    }

    func write(_ relative: String, _ text: String) throws {
        let url = URL(fileURLWithPath: dir.path + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// A `/proc/<pid>/stat` line whose command holds spaces and parentheses, starting at `start`.
    static func stat(pid: Int32, start: UInt64) -> String {
        "\(pid) (qemu (vm 1)) S 1 \(pid) \(pid) 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 4 0 \(start) 123456 789 18446744073709551615\n"
    }

    @Test func startTimeIsField22AfterTheCommand() {
        #expect(FileConsumerProbe.startTime(stat: Self.stat(pid: 7, start: 424242)) == 424242)
        #expect(FileConsumerProbe.startTime(stat: "7 (x) S 1") == nil)
    }

    @Test func pidPresentGoneAndReused() throws {
        try write("proc/4242/stat", Self.stat(pid: 4242, start: 1000))
        #expect(probe.processStartTime(4242) == 1000)
        #expect(probe.presence(of: .pid(4242, startTime: 1000)) == .present)
        guard case .gone(let why) = probe.presence(of: .pid(4242, startTime: 999)) else { Issue.record("reused pid must be gone"); return }
        #expect(why.contains("reused"))
        guard case .gone = probe.presence(of: .pid(4243, startTime: 1)) else { Issue.record("missing pid must be gone"); return }
    }

    @Test func cgroupAndUnit() throws {
        try write("sys/fs/cgroup/machine.slice/vm1.scope/cgroup.events", "populated 1\nfrozen 0\n")
        try write("sys/fs/cgroup/system.slice/qemu-vm2.service/cgroup.events", "populated 0\nfrozen 0\n")
        #expect(probe.presence(of: .cgroup("/machine.slice/vm1.scope")) == .present)
        #expect(probe.presence(of: .unit("vm1.scope")) == .present, "a scope is looked for under machine.slice")
        guard case .gone(let empty) = probe.presence(of: .unit("qemu-vm2.service")) else { Issue.record("populated 0 is gone"); return }
        #expect(empty.contains("populated 0"))
        guard case .gone(let missing) = probe.presence(of: .cgroup("/machine.slice/vm3.scope")) else { Issue.record("missing cgroup is gone"); return }
        #expect(missing.contains("does not exist"))
    }

    /// Units outside system.slice and machine.slice: a template instance (systemd puts `qemu@vm4.service`
    /// in `system.slice/system-qemu.slice/`), a unit with `Slice=nfv.slice` nested in a sub-slice, and a
    /// user's unit below its manager. Before, each was "gone" while it ran, and its lease was reclaimed.
    @Test func unitsAreFoundInEverySlice() throws {
        try write("sys/fs/cgroup/system.slice/system-qemu.slice/qemu@vm4.service/cgroup.events", "populated 1\n")
        try write("sys/fs/cgroup/nfv.slice/nfv-vms.slice/vnf-5.service/cgroup.events", "populated 1\n")
        try write("sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/app.slice/job-6.service/cgroup.events", "populated 1\n")
        try write("sys/fs/cgroup/system.slice/system-qemu.slice/qemu@vm7.service/cgroup.events", "populated 0\n")
        // A directory of that name that is not a unit's place (inside a service) does not count.
        try write("sys/fs/cgroup/system.slice/other.service/vnf-8.service/cgroup.events", "populated 1\n")
        #expect(probe.presence(of: .unit("qemu@vm4.service")) == .present)
        #expect(probe.presence(of: .unit("vnf-5.service")) == .present)
        #expect(probe.presence(of: .unit("job-6.service")) == .present)
        guard case .gone(let empty) = probe.presence(of: .unit("qemu@vm7.service")) else { Issue.record("populated 0 is gone"); return }
        #expect(empty == "cgroup /system.slice/system-qemu.slice/qemu@vm7.service is empty (populated 0)")
        // Found once, it is looked for where it was: stopped there, it is gone; moved, it is searched again.
        try FileManager.default.removeItem(atPath: dir.path + "/sys/fs/cgroup/nfv.slice/nfv-vms.slice/vnf-5.service")
        guard case .gone = probe.presence(of: .unit("vnf-5.service")) else { Issue.record("a stopped unit is gone"); return }
        try write("sys/fs/cgroup/nfv.slice/vnf-5.service/cgroup.events", "populated 1\n")
        #expect(probe.presence(of: .unit("vnf-5.service")) == .present)
        guard case .gone(let nowhere) = probe.presence(of: .unit("vnf-8.service")) else { Issue.record("not in a slice is gone"); return }
        #expect(nowhere == "unit vnf-8.service has no cgroup under \(dir.path)/sys/fs/cgroup (it is not running)")
    }

    @Test func libvirtRunStateFiles() throws {
        let uuid = "6f1c2e1a-8b4d-4c3e-9a7b-0d2e4f6a8b10"
        guard case .gone = probe.presence(of: .libvirt(uuid: uuid)) else { Issue.record("no state directory: gone"); return }
        try write("run/libvirt/qemu/vnf1.xml", "<domstatus state='paused' reason='starting up' pid='0'>\n  <domain type='kvm'>\n    <name>vnf1</name>\n    <uuid>\(uuid)</uuid>\n  </domain>\n</domstatus>\n")
        #expect(probe.presence(of: .libvirt(uuid: uuid)) == .present, "starting up: no QEMU pid yet")
        try write("run/libvirt/qemu/vnf1.xml", """
            <!--
            WARNING: THIS IS AN AUTO-GENERATED FILE.
            -->
            <domstatus state='running' reason='booted' pid='4242'>
              <domain type='kvm' id='1'>
                <name>vnf1</name>
                <uuid>6F1C2E1A-8B4D-4C3E-9A7B-0D2E4F6A8B10</uuid>
              </domain>
            </domstatus>
            """)
        try write("run/libvirt/qemu/vnf1.pid", "4242")
        guard case .gone(let dead) = probe.presence(of: .libvirt(uuid: uuid)) else { Issue.record("QEMU not running: gone"); return }
        #expect(dead.contains("pid 4242"))
        try write("proc/4242/stat", Self.stat(pid: 4242, start: 5))
        #expect(probe.presence(of: .libvirt(uuid: uuid)) == .present)
        guard case .gone = probe.presence(of: .libvirt(uuid: "0a0b0c0d-0000-4000-8000-000000000001")) else { Issue.record("other domain: gone"); return }
    }

    @Test func thisProcessOnTheRealProc() throws {
        let real = FileConsumerProbe()
        let me = getpid()
        let start = try #require(real.processStartTime(me))
        #expect(real.presence(of: .pid(me, startTime: start)) == .present)
        guard case .gone = real.presence(of: .pid(me, startTime: start + 1)) else { Issue.record("another start time: gone"); return }
    }
}
