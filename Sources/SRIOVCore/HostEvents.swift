/// Something the host's kernel announced: a PCI device came, went, or changed driver; a netdev came,
/// went, or changed link state or VF settings. Typed values, read off the kernel's messages by the
/// source (never derived from log text), so the engine can patch its view of one device instead of
/// rediscovering the host.
public enum HostEvent: Sendable, Equatable {
    case pci(PCIDeviceEvent)
    case link(LinkEvent)
    /// The source could not keep up and events were dropped (netlink ENOBUFS, a full buffer): nothing
    /// about the host can be trusted until a full pass reads it again.
    case overflow
}

/// A uevent of the `pci` subsystem.
public struct PCIDeviceEvent: Sendable, Equatable, Hashable {
    /// The kernel's uevent actions for a PCI device (`enum kobject_action`: add, remove, bind, unbind,
    /// change; `move`, `online`, `offline` are not sent for PCI functions and read as `change`).
    public enum Action: String, Sendable, Equatable, Hashable, Codable {
        case add, remove, bind, unbind, change
    }

    public var action: Action
    public var address: PCIAddress
    /// `DRIVER=` of a bind (and of an add/change when bound); nil when the kernel did not say.
    public var driver: String?

    public init(action: Action, address: PCIAddress, driver: String? = nil) {
        self.action = action
        self.address = address
        self.driver = driver
    }
}

/// A network interface's announcement: rtnetlink RTM_NEWLINK/RTM_DELLINK, or a `net` uevent.
public struct LinkEvent: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, Codable {
        /// RTM_NEWLINK of an interface already known, or uevent `change`/`move`.
        case changed
        /// uevent `add` of a net device (rtnetlink sends RTM_NEWLINK for new and changed alike).
        case added
        /// RTM_DELLINK, or uevent `remove`.
        case removed
    }

    /// RFC 2863 operational state as `IFLA_OPERSTATE` carries it (`IF_OPER_*` in `<linux/if.h>`).
    public enum OperState: String, Sendable, Equatable, Codable {
        case unknown, notPresent = "notpresent", down, lowerLayerDown = "lowerlayerdown", testing, dormant, up

        /// `IF_OPER_*` value -> state (unknown for values a newer kernel may add).
        public init(kernelValue: UInt8) {
            switch kernelValue {
            case 1: self = .notPresent
            case 2: self = .down
            case 3: self = .lowerLayerDown
            case 4: self = .testing
            case 5: self = .dormant
            case 6: self = .up
            default: self = .unknown
            }
        }
    }

    public var kind: Kind
    /// `IFLA_IFNAME` (nil if the message did not carry one, or it is not a valid name).
    public var interface: InterfaceName?
    /// `ifi_index`; 0 when the source did not know it.
    public var ifindex: Int32
    public var operState: OperState?
    /// `IFLA_CARRIER`: true when the link has carrier.
    public var carrier: Bool?
    /// The message carried `IFLA_VFINFO_LIST`: the interface is a PF and its VF settings may have
    /// changed. The kernel's own notification after `ip link set <pf> vf N ...` (netdev_state_change)
    /// is built without RTEXT_FILTER_VF and carries no list, so the engine treats any RTM_NEWLINK of a
    /// PF as a possible VF change; the simulator and the fake host set this for their VF changes.
    public var vfInfo: Bool

    public init(kind: Kind, interface: InterfaceName?, ifindex: Int32, operState: OperState? = nil, carrier: Bool? = nil,
                vfInfo: Bool = false) {
        self.kind = kind
        self.interface = interface
        self.ifindex = ifindex
        self.operState = operState
        self.carrier = carrier
        self.vfInfo = vfInfo
    }
}

/// Events gathered over a short window (`HostWatcher` coalesces bursts), deduplicated: what the
/// engine patches and checks in one turn (`LeaseEngine.observe(_:)`).
public struct HostEventBatch: Sendable, Equatable {
    /// PCI devices that changed, with their last action in the window.
    public var devices: [PCIAddress: PCIDeviceEvent.Action] = [:]
    /// Interfaces whose link changed (last state per interface), by name.
    public var links: [InterfaceName: LinkEvent] = [:]
    /// Interfaces that carried VF information (their VF settings may have changed).
    public var vfInfoChanged: Set<InterfaceName> = []
    /// Events were lost, or this is the periodic safety-net pass: read the whole host.
    public var fullPass = false
    /// How many raw events were folded into this batch.
    public var eventCount = 0

    public init() {}

    public init(_ events: [HostEvent]) {
        for event in events { add(event) }
    }

    public var isEmpty: Bool { devices.isEmpty && links.isEmpty && vfInfoChanged.isEmpty && !fullPass }

    public mutating func add(_ event: HostEvent) {
        eventCount += 1
        switch event {
        case .pci(let e):
            devices[e.address] = e.action
        case .link(let e):
            guard let name = e.interface else { return }
            if e.vfInfo { vfInfoChanged.insert(name) }
            var merged = e
            if let previous = links[name] {
                // The last message wins, but a field a later message left out keeps its value.
                merged.operState = e.operState ?? previous.operState
                merged.carrier = e.carrier ?? previous.carrier
                merged.vfInfo = e.vfInfo || previous.vfInfo
                if merged.ifindex == 0 { merged.ifindex = previous.ifindex }
            }
            links[name] = merged
        case .overflow:
            fullPass = true
        }
    }
}

/// Where a host's events come from: the kernel's netlink sockets (`SRIOVNetlink.KernelEventSource`),
/// the simulator's event log (`SRIOVSimulator.SimulatedEventSource`), the tests' `FakeHost`.
public protocol HostEventSource: Sendable {
    /// A new stream of the host's events from now on. The stream ends when the source fails for good
    /// (it yields `.overflow` first when it knows events were lost) or when its consumer stops.
    ///
    /// Kernel interface: `NETLINK_KOBJECT_UEVENT` (group 1) and `NETLINK_ROUTE` (`RTNLGRP_LINK`).
    func events() throws(SRIOVError) -> AsyncStream<HostEvent>
}
