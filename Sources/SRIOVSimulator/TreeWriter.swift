#if canImport(Glibc)
import Glibc
#endif
import SRIOVCore
import SRIOVSysfs

/// Creates and removes the files of the simulated sysfs tree (plain POSIX; thousands of entries).
struct TreeWriter {
    let root: String

    func path(_ relative: String) -> String { root + "/" + relative }

    /// `mkdir -p root/relative` (the root itself too).
    func mkdirs(_ relative: String) throws(SRIOVError) {
        var current = root.hasPrefix("/") ? "" : "."
        for part in (root + "/" + relative).split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) != 0 && errno != EEXIST {
                throw SRIOVError(.io, "simulator: cannot create directory \(current): \(Errno.name(errno))", cause: .errno(errno))
            }
        }
    }

    func write(_ relative: String, _ contents: String) throws(SRIOVError) {
        let full = path(relative)
        let fd = open(full, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SRIOVError(.io, "simulator: cannot write \(full): \(Errno.name(errno))", cause: .errno(errno))
        }
        defer { close(fd) }
        if contents.isEmpty { return }
        let bytes = Array(contents.utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else {
            throw SRIOVError(.io, "simulator: short write to \(full)", cause: .errno(errno))
        }
    }

    /// Creates an empty file if there is none (an existing one is left as it is).
    func touch(_ relative: String) throws(SRIOVError) {
        let full = path(relative)
        let fd = open(full, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SRIOVError(.io, "simulator: cannot create \(full): \(Errno.name(errno))", cause: .errno(errno))
        }
        close(fd)
    }

    /// Creates the link, replacing whatever is there (tried first without the unlink: usually nothing is).
    func symlink(_ target: String, at relative: String) throws(SRIOVError) {
        let full = path(relative)
        if Glibc.symlink(target, full) == 0 { return }
        unlink(full)
        guard Glibc.symlink(target, full) == 0 else {
            throw SRIOVError(.io, "simulator: cannot link \(full) -> \(target): \(Errno.name(errno))", cause: .errno(errno))
        }
    }

    func removeLink(_ relative: String) {
        unlink(path(relative))
    }

    /// Removes a file, a link, or a whole directory tree.
    func remove(_ relative: String) {
        removeTree(path(relative))
    }

    private func removeTree(_ full: String) {
        var st = stat()
        guard lstat(full, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in (FileSystem.list(full) ?? []) { removeTree(full + "/" + name) }
            rmdir(full)
        } else {
            unlink(full)
        }
    }
}

