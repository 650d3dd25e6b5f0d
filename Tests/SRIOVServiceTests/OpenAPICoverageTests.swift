import Foundation
import Hummingbird
import SRIOVService
import Testing
import Yams

@Suite("Docs/openapi.yaml matches the router")
struct OpenAPICoverageTests {
    static var documentPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs/openapi.yaml").path
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedPathIsServed() throws {
        let text = try String(contentsOfFile: Self.documentPath, encoding: .utf8)
        let document = try #require(try Yams.load(yaml: text) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: Any])
        let methods: Set<String> = ["get", "put", "post", "delete", "patch", "head", "options"]
        var documented: Set<String> = []
        for (path, item) in paths {
            for method in (item as? [String: Any] ?? [:]).keys where methods.contains(method) {
                documented.insert("\(method.uppercased()) \(path)")
            }
        }
        let router = APIRoutes.router(slot: EngineSlot())
        let served = Set(router.routes.map { "\($0.method) \($0.path)" })
        #expect(served.subtracting(documented).sorted() == [], "served but not in Docs/openapi.yaml")
        #expect(documented.subtracting(served).sorted() == [], "in Docs/openapi.yaml but not served")
        #expect(served.count >= 10)
    }
}
