#if canImport(Glibc)
import Glibc
#endif

/// The name of the calling thread where the kernel shows it (`/proc/<pid>/task/<tid>/comm`: `ps -L`,
/// `top -H`, perf, gdb). Foundation's `Thread.name` set before `start()` does not reach the kernel on
/// Linux, so the threads of our own set it themselves, first thing, through
/// `/proc/thread-self/comm` (what `pthread_setname_np` does; the Glibc module does not export it).
public enum ThreadName {
    public static func setCurrent(_ name: String) {
        precondition(name.utf8.count <= 15, "thread name \(name) is over the kernel's 15 bytes")
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = name.withCString { write(fd, $0, strlen($0)) }
    }
}
