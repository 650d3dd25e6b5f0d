import SRIOVCore

/// `/dev/vfio/<group>` given to the user/group a VM runs as (issue 14, item 3), so an unprivileged
/// QEMU or cloud-hypervisor can open its devices: after the lease's devices are bound and verified,
/// each IOMMU group's node gets the request's uid/gid (mode 0600, or 0660 with a group); the node's
/// previous owner, group and mode are journaled (`lease.vfio-grant`) before it is changed and put back
/// on release, on rollback and by recovery.
extension LeaseEngine {
    /// The request's device user and group as ids (names resolved by this host's account database).
    nonisolated static func deviceOwner(_ request: LeaseRequest) throws(SRIOVError) -> (uid: UInt32?, gid: UInt32?) {
        let uid = try request.deviceUser.map { text throws(SRIOVError) in try DeviceAccount.uid(text) }
        let gid = try request.deviceGroup.map { text throws(SRIOVError) in try DeviceAccount.gid(text) }
        return (uid, gid)
    }

    /// The node of each of the lease's IOMMU groups handed to the request's user/group. Refused when a
    /// group holds a device that is not this lease's (and not a bridge): the node opens the whole group.
    func grantDeviceNodes(_ id: LeaseID) async throws(SRIOVError) {
        let lease = try self.lease(id)
        guard lease.request.wantsDeviceOwner else { return }
        guard let nodes = host.nodes else {
            throw SRIOVError(.unsupported, "lease \(id): this host cannot change /dev/vfio ownership; leave out the device user and group")
        }
        let owner = try LeaseEngine.deviceOwner(lease.request)
        let mine = Set(lease.vfs.map(\.pciAddress))
        let held = book.heldVFs
        var groups: [Int] = []
        for vf in lease.vfs {
            guard let status = try host.source.device(vf.pciAddress), let group = status.iommuGroup else {
                throw SRIOVError(.kernelRefused, "lease \(id): \(vf.pciAddress) has no IOMMU group; its /dev/vfio node cannot be given to the VM's user")
            }
            for member in group.members where !mine.contains(member.pciAddress) && !member.isBridge {
                let whose = held[member.pciAddress].map { "leased to \($0)" } ?? "driver \(member.driver ?? "none")"
                throw SRIOVError(.busy, "lease \(id): IOMMU group \(group.id) of \(vf.pciAddress) also holds \(member.pciAddress) (\(whose)); /dev/vfio/\(group.id) would open that device too, so it cannot be given to the VM's user/group alone: lease without --device-user/--device-group, or free the other device")
            }
            if !groups.contains(group.id) { groups.append(group.id) }
        }
        for group in groups {
            guard let now = try nodes.vfioNodeOwnership(group) else {
                throw SRIOVError(.kernelRefused, "lease \(id): /dev/vfio/\(group) does not exist after binding to vfio-pci")
            }
            // A grant already journaled for this group (a retried step) keeps the owner from before it.
            let previous = lease.vfioGrants?.first { $0.group == group }?.previous ?? now
            let granted = VFIONodeOwnership(uid: owner.uid ?? previous.uid, gid: owner.gid ?? previous.gid,
                                            mode: owner.gid != nil ? 0o660 : 0o600)
            if lease.vfioGrants?.contains(where: { $0.group == group }) != true {
                // Written before the chown (a killed sriovd leaves it behind); the node does not outlive
                // a reboot, so the acquire's one durable wait, `activated`, is enough for a power loss.
                try await recordWritten([.vfioGranted(lease: id, grant: VFIOGrant(group: group, node: "/dev/vfio/\(group)", granted: granted, previous: previous))])
            }
            try nodes.setVFIONodeOwnership(granted, group: group)
        }
    }

    /// Puts each granted node back as it was (before the devices leave vfio-pci, which removes the node
    /// on a real kernel); a node that is gone has nothing to restore. Returns what could not be restored.
    nonisolated func restoreDeviceNodes(_ lease: Lease) -> [String] {
        guard let grants = lease.vfioGrants, !grants.isEmpty else { return [] }
        guard let nodes = host.nodes else { return ["lease \(lease.id): cannot restore \(grants.map(\.node).joined(separator: ", ")): this host cannot change /dev/vfio ownership"] }
        var problems: [String] = []
        for grant in grants {
            do throws(SRIOVError) {
                guard try nodes.vfioNodeOwnership(grant.group) != nil else { continue }
                try nodes.setVFIONodeOwnership(grant.previous, group: grant.group)
            } catch {
                problems.append("lease \(lease.id): \(grant.node) not restored to \(grant.previous.description): \(error.message)")
            }
        }
        return problems
    }

    /// Whether every IOMMU group of a lease that names a device owner has its grant journaled and in
    /// place (recovery rolls an interrupted acquire forward only then).
    func deviceNodesGranted(_ lease: Lease) -> Bool {
        guard lease.request.wantsDeviceOwner else { return true }
        guard let nodes = host.nodes else { return false }
        let groups = Set(lease.vfs.compactMap(\.iommuGroup))
        for group in groups {
            guard let grant = lease.vfioGrants?.first(where: { $0.group == group }),
                  let now = try? nodes.vfioNodeOwnership(group), now == grant.granted else { return false }
        }
        return !groups.isEmpty
    }
}
