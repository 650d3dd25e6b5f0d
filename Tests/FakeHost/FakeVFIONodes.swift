import SRIOVCore

/// `/dev/vfio/<group>` ownership in memory: a node the kernel makes is root:root 0600, and goes (with
/// what was set on it) when no member of its group is on vfio-pci any more.
extension FakeHost: VFIONodeControl {
    /// Kernel interface (fake): `stat(2)` of `/dev/vfio/<group>`.
    public func vfioNodeOwnership(_ group: Int) throws(SRIOVError) -> VFIONodeOwnership? {
        kernel.withLock { k in
            guard k.vfioNodes.contains(group) else { return nil }
            return k.nodeOwners[group] ?? VFIONodeOwnership(uid: 0, gid: 0, mode: 0o600)
        }
    }

    /// Kernel interface (fake): `chown(2)` and `chmod(2)` of `/dev/vfio/<group>`.
    public func setVFIONodeOwnership(_ ownership: VFIONodeOwnership, group: Int) throws(SRIOVError) {
        try kernel.withLock { (k: inout FakeKernel) throws(SRIOVError) in
            guard k.vfioNodes.contains(group) else {
                throw SRIOVError(.io, "cannot chown /dev/vfio/\(group): No such file or directory", cause: .errno(2))
            }
            k.nodeOwners[group] = ownership
        }
    }
}
