import HTTPTypes
import Hummingbird

/// A request for a path the API serves, with a method that path does not take: 405 with `Allow`
/// (RFC 9110, section 15.5.6), not the 404 of a path that does not exist.
public struct MethodNotAllowed: Error, Sendable {
    public let method: HTTPRequest.Method
    public let path: String
    /// The methods the path takes, sorted (`DELETE, GET`).
    public let allow: [HTTPRequest.Method]

    public var allowHeader: String { allow.map(\.rawValue).joined(separator: ", ") }

    public var detail: String {
        "\(method.rawValue) is not allowed on \(path): it takes \(allowHeader) (Docs/openapi.yaml lists the API)"
    }
}

/// Answers 405 for a known path asked with another method. Added to the router after every route, so
/// it runs only where no route matched (Hummingbird builds its not-found responder with the middleware
/// added by then), after `AccessMiddleware`: a caller without a valid token still gets 401.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Route: Sendable {
        let components: [RouterPath.Element]
        var methods: Set<HTTPRequest.Method>
    }

    let routes: [Route]

    init(_ descriptions: [Router<Context>.RouteDescription]) {
        var routes: [Route] = []
        for description in descriptions {
            if let i = routes.firstIndex(where: { $0.components == description.path.components }) {
                routes[i].methods.insert(description.method)
            } else {
                routes.append(Route(components: description.path.components, methods: [description.method]))
            }
        }
        self.routes = routes
    }

    /// The methods `path` takes, sorted; nil when no route has that path.
    func allowed(_ path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.filter { route in
            route.components.count == segments.count && zip(route.components, segments).allSatisfy { $0 ~= $1 }
        }.reduce(into: Set<HTTPRequest.Method>()) { $0.formUnion($1.methods) }
        return methods.isEmpty ? nil : methods.sorted { $0.rawValue < $1.rawValue }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allow = allowed(request.uri.path), !allow.contains(request.method) else {
            return try await next(request, context)
        }
        throw MethodNotAllowed(method: request.method, path: request.uri.path, allow: allow)
    }
}
