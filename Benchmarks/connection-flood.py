#!/usr/bin/env python3
"""sriovd under a connection flood without a token (issue 15, defect 1). Not a test: it prints numbers.

Starts `sriovd --simulated` with a tokens file and `--listen-tcp 127.0.0.1:<free port>`, then, side
by side in one run:
  1. baseline: GET /healthz on the Unix socket, N probes, no flood;
  2. the flood: F TCP connections without a token, each sending a request every --interval seconds
     (the probe's pattern: ~1,100 connections, one request each every 20 s), plus F idle connections
     that never send anything; meanwhile the same /healthz probes on the Unix socket.
Prints the probes' median / p99 / max latency in each phase, sriovd's CPU (user+system, from
/proc/PID/stat) per second of flood, its open descriptors, and how many flood connections it closed.

    swift build   (or a release build: --bin .build/release)
    python3 Benchmarks/connection-flood.py [--bin .build/debug] [--connections 2000] [--seconds 20] [--interval 5]
"""
import argparse
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time

CONFIG = """\
pfs: []
access:
  tokens_file: {tokens}
  tenants:
    - name: orch
      tokens: [orch-1]
      pools: ["*"]
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def healthz(sock_path):
    start = time.monotonic()
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(120)
    s.connect(sock_path)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    took = time.monotonic() - start
    if not data.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"connection-flood: /healthz answered {data[:40]!r}")
    return took


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def probe(sock_path, count, spacing):
    latencies = []
    for _ in range(count):
        latencies.append(healthz(sock_path))
        time.sleep(spacing)
    return latencies


def summary(name, latencies):
    ms = [x * 1000 for x in latencies]
    return f"{name:<28} median {percentile(ms, 50):7.2f} ms   p99 {percentile(ms, 99):7.2f} ms   max {max(ms):7.2f} ms   ({len(ms)} probes)"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", ".build", "debug"))
    parser.add_argument("--connections", type=int, default=2000, help="talking flood connections (and as many idle ones)")
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--interval", type=float, default=5, help="seconds between a flood connection's requests")
    parser.add_argument("--probes", type=int, default=100)
    args = parser.parse_args()
    sriovd = os.path.join(args.bin, "sriovd")
    if not os.access(sriovd, os.X_OK):
        raise SystemExit(f"connection-flood: {sriovd} not built; run: swift build")
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    work = tempfile.mkdtemp(prefix="sriov-flood-")
    tokens = os.path.join(work, "tokens")
    with open(tokens, "w") as f:
        import hashlib
        f.write("orch-1 sha256:" + hashlib.sha256(b"orch-secret-0123456789").hexdigest() + "\n")
    os.chmod(tokens, 0o600)
    config = os.path.join(work, "sriovd.yaml")
    with open(config, "w") as f:
        f.write(CONFIG.format(tokens=tokens))
    sock_path = os.path.join(work, "sriovd.sock")
    port = free_port()
    daemon = subprocess.Popen([sriovd, "--simulated", "--state-dir", os.path.join(work, "state"), "--config", config,
                               "--socket", sock_path, "--listen-tcp", f"127.0.0.1:{port}", "--log-level", "error"])
    try:
        for _ in range(600):
            if os.path.exists(sock_path):
                break
            time.sleep(0.1)
        time.sleep(0.5)
        print(f"connection-flood: sriovd pid {daemon.pid}, TCP port {port}, descriptor limit {open(f'/proc/{daemon.pid}/limits').read().split('Max open files')[1].split()[0]}")
        baseline = probe(sock_path, args.probes, 0.02)
        print(summary("healthz, no flood", baseline))

        sel = selectors.DefaultSelector()
        talking, idle = [], []
        opened = failed = 0
        for i in range(2 * args.connections):
            s = socket.socket()
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", port))
            except BlockingIOError:
                pass
            except OSError:
                failed += 1
                s.close()
                continue
            opened += 1
            (talking if i % 2 == 0 else idle).append(s)
            sel.register(s, selectors.EVENT_READ)
        request = b"GET /v1/pools HTTP/1.1\r\nHost: x\r\n\r\n"
        closed_by_server = 0
        next_send = {s: time.monotonic() for s in talking}
        cpu0, t0 = cpu_seconds(daemon.pid), time.monotonic()
        flood_latencies = []
        last_probe = 0.0
        while time.monotonic() - t0 < args.seconds:
            now = time.monotonic()
            for s, due in list(next_send.items()):
                if now >= due:
                    try:
                        s.send(request)
                        next_send[s] = now + args.interval
                    except OSError:
                        del next_send[s]
            for key, _ in sel.select(timeout=0.01):
                s = key.fileobj
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    next_send.pop(s, None)
                    s.close()
                    closed_by_server += 1
            if now - last_probe >= args.seconds / args.probes:
                flood_latencies.append(healthz(sock_path))
                last_probe = time.monotonic()
        cpu1, t1 = cpu_seconds(daemon.pid), time.monotonic()
        fds = len(os.listdir(f"/proc/{daemon.pid}/fd"))
        print(summary("healthz, during the flood", flood_latencies))
        print(f"{'flood':<28} {opened} connections opened ({failed} failed), {closed_by_server} closed by sriovd "
              f"(refused past the limits, or after a 401), sriovd holds {fds} descriptors")
        print(f"{'sriovd CPU during the flood':<28} {(cpu1 - cpu0) / (t1 - t0) * 100:.1f}% of one core over {t1 - t0:.1f} s")
        for s in talking + idle:
            try:
                s.close()
            except OSError:
                pass
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            print("connection-flood: sriovd did not stop within 30 s of SIGTERM", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
