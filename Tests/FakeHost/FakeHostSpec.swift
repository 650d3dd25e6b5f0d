import SRIOVCore
import SRIOVSimulator

// The fake host is built from the simulator's own host description (pure values: no disk is touched),
// so a test changes either host the same way and `FakeHost.Spec.standard()` is the simulator's
// standard host by construction.
extension FakeHost {
    /// How one NIC model's drivers behave (`DriverProfile`).
    public typealias Driver = DriverProfile
    /// One PF of the host (`SimulatedHostSpec.PF`).
    public typealias PF = SimulatedHostSpec.PF
    /// What a host is built from (`SimulatedHostSpec`).
    public typealias Spec = SimulatedHostSpec
}

extension SimulatedHostSpec.PF {
    /// SR-IOV routing: VF n is at PF RID + First VF Offset + n * VF Stride.
    func vfAddress(_ index: Int) -> PCIAddress { SimulatedHostSpec.vfAddress(self, index: index) }
}
