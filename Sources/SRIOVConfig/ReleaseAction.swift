/// What happens to a VF once its lease is released and it has been scrubbed.
public enum ReleaseAction: String, Sendable, Equatable, Codable, CaseIterable {
    /// Leave it without a driver: ready for the next lease, invisible to the host's network stack.
    case leaveUnbound = "leave-unbound"
    /// Bind it back to the PF's VF driver (iavf, mlx5_core, igbvf) so the host can use it.
    case rebindHostDriver = "rebind-host-driver"
}
