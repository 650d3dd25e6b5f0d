import Synchronization

/// Fans values out to subscribers, each with its own bounded `AsyncStream`.
///
/// Publishing never waits: a subscriber too slow to keep `capacity` values in hand is cut off (its
/// stream finishes and `Subscription.overflowed` says so) rather than holding up the publisher or
/// silently skipping values, so a consumer knows to resynchronise from the full state.
public final class EventBus<Element: Sendable>: Sendable {
    struct Subscriber {
        let continuation: AsyncStream<Element>.Continuation
        let overflow: Flag
    }

    final class Flag: Sendable {
        let value = Atomic<Bool>(false)
    }

    struct State {
        var subscribers: [UInt64: Subscriber] = [:]
        var nextID: UInt64 = 0
        var closed = false
    }

    private let state = Mutex(State())

    public init() {}

    /// One consumer's view: iterate `events`; `cancel()` (or dropping the subscription) leaves the bus.
    public final class Subscription: Sendable {
        public let events: AsyncStream<Element>
        let id: UInt64
        let overflow: Flag
        weak let bus: EventBus<Element>?

        init(events: AsyncStream<Element>, id: UInt64, overflow: Flag, bus: EventBus<Element>) {
            self.events = events
            self.id = id
            self.overflow = overflow
            self.bus = bus
        }

        /// True when the stream ended because the subscriber fell `capacity` values behind.
        public var overflowed: Bool { overflow.value.load(ordering: .acquiring) }

        public func cancel() { bus?.remove(id) }

        deinit { bus?.remove(id) }
    }

    /// A new subscriber that sees every value published from now on (at most `capacity` unread).
    /// After `close()` the stream is already finished.
    public func subscribe(capacity: Int = 256) -> Subscription {
        let (stream, continuation) = AsyncStream.makeStream(of: Element.self, bufferingPolicy: .bufferingOldest(max(1, capacity)))
        return state.withLock { state in
            let id = state.nextID
            state.nextID += 1
            let flag = Flag()
            let subscription = Subscription(events: stream, id: id, overflow: flag, bus: self)
            if state.closed {
                continuation.finish()
            } else {
                state.subscribers[id] = Subscriber(continuation: continuation, overflow: flag)
                continuation.onTermination = { [weak self] _ in self?.remove(id) }
            }
            return subscription
        }
    }

    /// Hands `value` to every subscriber; cuts off the ones whose buffer is full.
    public func publish(_ value: Element) {
        let lagging: [Subscriber] = state.withLock { state in
            var lagging: [Subscriber] = []
            for (id, subscriber) in state.subscribers {
                if case .dropped = subscriber.continuation.yield(value) {
                    subscriber.overflow.value.store(true, ordering: .releasing)
                    state.subscribers[id] = nil
                    lagging.append(subscriber)
                }
            }
            return lagging
        }
        // Outside the lock: finishing runs onTermination, which takes the lock again.
        for subscriber in lagging { subscriber.continuation.finish() }
    }

    /// Finishes every stream and refuses new subscribers (graceful shutdown).
    public func close() {
        let all: [Subscriber] = state.withLock { state in
            state.closed = true
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        for subscriber in all { subscriber.continuation.finish() }
    }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    func remove(_ id: UInt64) {
        let removed = state.withLock { $0.subscribers.removeValue(forKey: id) }
        removed?.continuation.finish()
    }
}
