import Hummingbird
import SRIOVCore
import SRIOVLeasing

/// PF and VF administration: the VF count, one VF's settings, taking a VF out of quarantine. Every
/// write goes through the lease engine (serialized with leasing, audited).
enum PFRoutes {
    static func register(on router: Router<ServiceRequestContext>, slot: EngineSlot) {
        router.put("/v1/pfs/{pf}/numvfs") { request, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            guard let body = try await APIRoutes.decodeBody(NumVFsBody.self, request, context) else {
                throw SRIOVError(.invalidArgument, "empty body: send {\"numvfs\": N}, optionally with \"autoprobe\" and \"force\"")
            }
            let result = try await engine.setNumVFs(pf: try pfName(context), to: body.numvfs, autoprobe: body.autoprobe,
                                                    force: body.force ?? false, timeout: try body.timeout(),
                                                    requestedBy: await context.caller())
            return try APIRoutes.json(result)
        }
        router.patch("/v1/pfs/{pf}/vfs/{n}") { request, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            let index = try VFIndex(parsing: APIRoutes.pathParameter("n", context) ?? "").value
            guard let body = try await APIRoutes.decodeBody(VFSettingsBody.self, request, context) else {
                throw SRIOVError(.invalidArgument, "empty body: send the settings to change, e.g. {\"vlan\": 100, \"trust\": false}")
            }
            let info = try await engine.setVF(pf: try pfName(context), index: index, settings: try body.settings(),
                                              force: body.force ?? false, requestedBy: await context.caller())
            return try APIRoutes.json(info)
        }
        router.post("/v1/pfs/{pf}/drain") { request, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            // An empty body drains with the defaults (10 minutes, no eviction).
            let body = try await APIRoutes.decodeBody(PFDrainBody.self, request, context) ?? PFDrainBody(deadlineSeconds: nil, evict: nil)
            let status = try await engine.drainPF(try pfName(context), deadline: try body.deadline(), evict: body.evict ?? false,
                                                  requestedBy: await context.caller())
            return try APIRoutes.json(status)
        }
        router.post("/v1/pfs/{pf}/undrain") { _, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            return try APIRoutes.json(try await engine.undrainPF(try pfName(context), requestedBy: await context.caller()))
        }
        router.get("/v1/doctor") { _, context in
            try Authorization.require(.admin, context)
            let (_, host) = try slot.require()
            let checks = Doctor.run(try host.source.inventory())
            return try APIRoutes.json(DoctorReport(checks: checks, failed: checks.filter { $0.status == .fail }.count,
                                                   warned: checks.filter { $0.status == .warn }.count))
        }
        router.get("/v1/check") { _, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            return try APIRoutes.json(try await engine.check())
        }
        router.post("/v1/vfs/{pci}/unquarantine") { _, context in
            try Authorization.require(.admin, context)
            let (engine, _) = try slot.require()
            let vf = try PCIAddress(parsing: APIRoutes.pathParameter("pci", context) ?? "")
            try await engine.unquarantine(vf, requestedBy: await context.caller())
            return try APIRoutes.json(Unquarantined(vf: vf.description, pool: await engine.plan.pool(of: vf)))
        }
    }

    static func pfName(_ context: ServiceRequestContext) throws(SRIOVError) -> String {
        guard let text = APIRoutes.pathParameter("pf", context), !text.isEmpty else {
            throw SRIOVError(.invalidArgument, "missing PF in the path: name it by netdev (ens1f0) or PCI address (0000:3b:00.0)")
        }
        return text
    }
}

/// `GET /v1/doctor`'s answer.
struct DoctorReport: Encodable, Sendable {
    let checks: [DoctorCheck]
    let failed: Int
    let warned: Int
}
