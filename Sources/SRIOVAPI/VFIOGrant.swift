import SRIOVCore

/// One `/dev/vfio/<group>` node a lease gave to the VM's user/group (issue 14, item 3): journaled
/// (`lease.vfio-grant`) before the node is changed, so release and recovery can put `previous` back.
public struct VFIOGrant: Sendable, Codable, Equatable {
    public var group: Int
    /// `/dev/vfio/<group>`.
    public var node: String
    public var granted: VFIONodeOwnership
    /// The node's owner, group and mode before the lease changed them.
    public var previous: VFIONodeOwnership

    public init(group: Int, node: String, granted: VFIONodeOwnership, previous: VFIONodeOwnership) {
        self.group = group
        self.node = node
        self.granted = granted
        self.previous = previous
    }
}
