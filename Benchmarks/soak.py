#!/usr/bin/env python3
"""Soak: sriovd under 64 clients doing random operations for an hour, killed with SIGKILL now and
then, its journal compacting on its own (issue 15). Not a test: it prints numbers, and exits non-zero
if a promise broke.

    swift build -c release   (or: --bin .build/debug)
    python3 Benchmarks/soak.py [--bin .build/release] [--minutes 60] [--clients 64] [--kill-every 300]
                               [--pfs 8] [--vfs 64] [--state /var/tmp/sriov-soak]

Each client loops over random operations on its own kept-alive connection to the Unix socket:
acquire (1-2 VFs, half of them with a TTL), show, renew, release, list, pool list, and bad requests
(an unknown pool, a malformed body, a lease that does not exist), keeping at most 3 leases. Every
--kill-every seconds sriovd gets SIGKILL and is started again (the clients retry while it is down);
after each restart `GET /v1/check` must report nothing broken, and every lease a client was handed
and did not release (and that had no TTL) must still exist. Once a minute it prints sriovd's RSS, its
open descriptors, the journal's size, the operations done and their p50/p99 latency (from the
client's side, only operations that got an answer). The journal is compacted by sriovd itself (after
10,000 appends).
"""
import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = []          # this minute's, seconds
        self.ops = 0
        self.by_status = {}
        self.unavailable = 0         # requests that found no sriovd (during a kill)
        self.server_errors = []      # 5xx other than while sriovd was down
        self.lost = []               # acknowledged leases missing after a restart
        self.all_latencies = []

    def record(self, op, status, latency):
        with self.lock:
            self.ops += 1
            self.by_status[(op, status)] = self.by_status.get((op, status), 0) + 1
            self.latencies.append(latency)
            self.all_latencies.append(latency)

    def take_minute(self):
        with self.lock:
            lat, self.latencies = self.latencies, []
            return lat


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


class Daemon:
    def __init__(self, args):
        self.args = args
        self.sock = os.path.join(args.state, "sriovd.sock")
        self.proc = None
        self.up = threading.Event()

    def start(self):
        log = open(os.path.join(self.args.state, "sriovd.log"), "a")
        self.proc = subprocess.Popen([os.path.join(self.args.bin, "sriovd"), "--simulated", "--state-dir", self.args.state,
                                      "--config", os.path.join(self.args.state, "bench.yaml"), "--socket", self.sock,
                                      "--log-level", "warning"], stdout=log, stderr=log)
        for _ in range(1200):
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: sriovd exited with {self.proc.returncode} at start; see {self.args.state}/sriovd.log")
            try:
                status, _ = request(self.sock, "GET", "/readyz")
                if status == 200:
                    self.up.set()
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit("soak: sriovd did not become ready within 60 s")

    def kill(self):
        self.up.clear()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.up.clear()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                print("soak: sriovd did not stop within 60 s of SIGTERM", file=sys.stderr)

    def rss_mb(self):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


def request(sock, method, path, body=None, conn=None):
    own = conn is None
    conn = conn or UnixHTTPConnection(sock)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        return response.status, data
    finally:
        if own:
            conn.close()


def client(n, daemon, stats, stop, args):
    rng = random.Random(n)
    conn = None
    held = {}   # lease id -> has a TTL
    while not stop.is_set():
        if not daemon.up.wait(timeout=1):
            continue
        if conn is None:
            conn = UnixHTTPConnection(daemon.sock)
        roll = rng.random()
        if roll < 0.25 and len(held) < 3:
            ttl = rng.random() < 0.5
            body = {"pool": "bench", "owner": f"soak-{n}", "count": rng.choice([1, 1, 2])}
            if ttl:
                body["ttlSeconds"] = rng.choice([30, 600])
            op, method, path, payload = "acquire", "POST", "/v1/leases", json.dumps(body)
        elif roll < 0.45 and held:
            op, method, path, payload = "release", "DELETE", f"/v1/leases/{rng.choice(list(held))}", None
        elif roll < 0.55 and held:
            op, method, path, payload = "renew", "POST", f"/v1/leases/{rng.choice(list(held))}/renew", None
        elif roll < 0.70 and held:
            op, method, path, payload = "show", "GET", f"/v1/leases/{rng.choice(list(held))}", None
        elif roll < 0.80:
            op, method, path, payload = "list", "GET", "/v1/leases", None
        elif roll < 0.90:
            op, method, path, payload = "pools", "GET", "/v1/pools", None
        else:
            op, method, path, payload = rng.choice([
                ("bad-pool", "POST", "/v1/leases", json.dumps({"pool": "nope", "owner": "x"})),
                ("bad-body", "POST", "/v1/leases", "{\"pool\": "),
                ("bad-lease", "GET", "/v1/leases/l-0000000000000000", None),
            ])
        start = time.monotonic()
        try:
            status, data = request(daemon.sock, method, path, payload, conn)
        except (OSError, http.client.HTTPException):
            # sriovd is down (killed) or the connection was closed: reconnect and go on. A release
            # whose answer was lost may have happened (recovery finishes a release whose intent was
            # durable), so that lease is no longer counted as held.
            if op == "release":
                held.pop(path.rsplit("/", 1)[1], None)
            with stats.lock:
                stats.unavailable += 1
            try:
                conn.close()
            except OSError:
                pass
            conn = None
            time.sleep(0.05)
            continue
        latency = time.monotonic() - start
        stats.record(op, status, latency)
        if status >= 500:
            with stats.lock:
                stats.server_errors.append(f"{op} {path}: {status} {data[:200]!r}")
        if op == "acquire" and status in (200, 201):
            lease = json.loads(data)
            held[lease["id"]] = "ttlSeconds" in (json.loads(payload))
        elif op == "release" and path.rsplit("/", 1)[1] in held and status in (200, 404):
            held.pop(path.rsplit("/", 1)[1], None)
        elif op in ("show", "renew") and status == 404:
            lease_id = path.split("/")[3]
            had_ttl = held.pop(lease_id, True)
            if not had_ttl:
                with stats.lock:
                    stats.lost.append(f"client {n}: lease {lease_id} (no TTL, never released) is gone")
    if conn:
        conn.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".build", "release"))
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--kill-every", type=float, default=300)
    parser.add_argument("--pfs", type=int, default=8)
    parser.add_argument("--vfs", type=int, default=64)
    parser.add_argument("--state", default="/var/tmp/sriov-soak")
    args = parser.parse_args()
    for b in ("sriovd", "sriov-bench"):
        if not os.access(os.path.join(args.bin, b), os.X_OK):
            raise SystemExit(f"soak: {args.bin}/{b} not built; run: swift build -c release (or pass --bin .build/debug)")
    subprocess.run(["rm", "-rf", args.state], check=True)
    subprocess.run([os.path.join(args.bin, "sriov-bench"), "daemon-prepare", "--state-dir", args.state, "--pfs", str(args.pfs),
                    "--vfs", str(args.vfs)], check=True)
    fsync_ms = measure_fsync(args.state)
    print(f"soak: {args.clients} clients, {args.minutes:g} min, SIGKILL every {args.kill_every:g} s, "
          f"{args.pfs * args.vfs} VFs; fsync on this disk {fsync_ms:.2f} ms; binaries {os.path.realpath(args.bin)}")
    daemon = Daemon(args)
    daemon.start()
    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=client, args=(n, daemon, stats, stop, args), daemon=True) for n in range(args.clients)]
    for t in threads:
        t.start()
    start = time.monotonic()
    next_kill = start + args.kill_every
    next_report = start + 60
    kills = 0
    broken = []
    samples = []
    print(f"{'min':>4} {'ops':>8} {'p50 ms':>8} {'p99 ms':>8} {'RSS MB':>8} {'fds':>5} {'journal KB':>11} {'kills':>6}")
    try:
        while time.monotonic() - start < args.minutes * 60:
            time.sleep(0.5)
            now = time.monotonic()
            if now >= next_kill:
                daemon.kill()
                kills += 1
                daemon.start()
                status, data = request(daemon.sock, "GET", "/v1/check")
                report = json.loads(data) if status == 200 else {}
                if status != 200 or report.get("broken"):
                    broken.append(f"after kill {kills}: GET /v1/check {status} {data[:400]!r}")
                next_kill = now + args.kill_every
            if now >= next_report:
                lat = stats.take_minute()
                journal = os.path.getsize(os.path.join(args.state, "journal.jsonl")) / 1024
                row = (round((now - start) / 60), len(lat), percentile(lat, 50) * 1000, percentile(lat, 99) * 1000,
                       daemon.rss_mb(), daemon.fds(), journal, kills)
                samples.append(row)
                print(f"{row[0]:>4} {row[1]:>8} {row[2]:>8.2f} {row[3]:>8.2f} {row[4]:>8.1f} {row[5]:>5} {row[6]:>11.0f} {row[7]:>6}",
                      flush=True)
                next_report = now + 60
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        # A last check with everything quiet.
        status, data = request(daemon.sock, "GET", "/v1/check")
        report = json.loads(data) if status == 200 else {}
        if status != 200 or report.get("broken"):
            broken.append(f"at the end: GET /v1/check {status} {data[:400]!r}")
        daemon.stop()
    lat = stats.all_latencies
    print(f"soak: {stats.ops} operations answered, p50 {percentile(lat, 50) * 1000:.2f} ms, p99 {percentile(lat, 99) * 1000:.2f} ms, "
          f"max {max(lat) * 1000 if lat else float('nan'):.1f} ms; {stats.unavailable} requests found no sriovd (kills); {kills} kills")
    codes = {}
    for (op, status), count in stats.by_status.items():
        codes.setdefault(op, []).append(f"{status}x{count}")
    for op in sorted(codes):
        print(f"  {op:<10} {' '.join(sorted(codes[op]))}")
    if len(samples) >= 3:
        first, last = samples[1], samples[-1]
        print(f"soak: RSS {first[4]:.1f} MB at minute {first[0]} -> {last[4]:.1f} MB at minute {last[0]}; "
              f"fds {first[5]} -> {last[5]}")
    problems = stats.server_errors + stats.lost + broken
    for p in problems[:50]:
        print("PROBLEM", p)
    if problems:
        print(f"soak: {len(problems)} problems")
        sys.exit(1)
    print("soak: no 5xx, no lease lost, every check after a kill clean")


def measure_fsync(directory, n=50):
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        start = time.monotonic()
        for _ in range(n):
            os.write(fd, b"x" * 100)
            os.fsync(fd)
        return (time.monotonic() - start) / n * 1000
    finally:
        os.close(fd)
        os.unlink(path)


if __name__ == "__main__":
    main()
