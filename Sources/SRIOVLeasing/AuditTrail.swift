import SRIOVCore

extension LeaseEngine {
    /// Records a request the API refused (another tenant's pool, a missing right, a quota), so the
    /// trail shows who tried what, next to what was done. Journaled like every audit record.
    public func auditRefusal(who: String, action: String, target: String, reason: String) async {
        await audit(who, action, target, "refused: \(reason)")
    }
}

