import Testing
@testable import SRIOVCore

@Suite struct HostEventBatchTests {
    let vf = PCIAddress("0000:3b:02.0")!
    let pf = InterfaceName("ens1f0")!

    @Test func eventsFoldIntoOneEntryPerDeviceAndLink() {
        var batch = HostEventBatch()
        batch.add(.pci(PCIDeviceEvent(action: .unbind, address: vf)))
        batch.add(.pci(PCIDeviceEvent(action: .bind, address: vf, driver: "vfio-pci")))
        batch.add(.link(LinkEvent(kind: .changed, interface: pf, ifindex: 4, operState: .down, carrier: false)))
        batch.add(.link(LinkEvent(kind: .changed, interface: pf, ifindex: 0, vfInfo: true)))
        #expect(batch.eventCount == 4)
        #expect(batch.devices == [vf: .bind])
        // A later message that leaves a field out keeps the earlier value.
        #expect(batch.links[pf] == LinkEvent(kind: .changed, interface: pf, ifindex: 4, operState: .down, carrier: false, vfInfo: true))
        #expect(batch.vfInfoChanged == [pf])
        #expect(!batch.fullPass && !batch.isEmpty)
    }

    @Test func overflowAsksForAFullPass() {
        let batch = HostEventBatch([.overflow])
        #expect(batch.fullPass && !batch.isEmpty)
        #expect(HostEventBatch().isEmpty)
        // A link event without a name says nothing the engine can use.
        #expect(HostEventBatch([.link(LinkEvent(kind: .changed, interface: nil, ifindex: 3))]).links.isEmpty)
    }
}
