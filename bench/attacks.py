#!/usr/bin/env python3
"""Hostile clients against a built lantiand, with the figures docs/security.md records.

Each attack starts its own lantiand on a fresh data directory (loopback, default limits unless
the attack says otherwise), runs for a bounded time, reads the server's metrics and prints one
line of figures. Nothing here is a pass/fail test: the regression tests are in tests/server/; this
measures what the defences do at the scale an attacker would use.

    bench/attacks.py BIN_DIR [attack ...]    # attacks: see ATTACKS below; default all

Attacks:
  anonymous_flood  20 s of API requests with a wrong token, 4 clients with keep-alive
  idle_api         1,000 idle TCP connections to the API port, then a user from another address
  vin_fight        50 connections logging in as one VIN for 35 s beside the real terminal (which
                   connects from another address)
  never_login      1,000 connections that never log in, then a terminal of the same address
  partial_frames   500 connections announcing 65,000 bytes and sending 60,000
A bad day in operations (the simulator drives 200 terminals meanwhile):
  readonly_datadir the archive's directory made immutable (chattr +i) for 5 s under load
  damaged_wal      kill -9 under load, 64 bytes damaged in the middle of the newest WAL, restart
"""

import http.client
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "tests", "corpus", "frames")


def corpus(name):
    with open(os.path.join(CORPUS, name + ".hex")) as f:
        return bytes.fromhex(f.read().strip())


def with_bcc(frame):
    bcc = 0
    for b in frame[2:-1]:
        bcc ^= b
    return frame[:-1] + bytes([bcc])


LOGIN = corpus("e1-login")          # gb17691 layout, answered on an hj1239 listener
REPORT = corpus("e3-hj1239-realtime-signed")


def login(vin):
    f = bytearray(LOGIN)
    f[3:20] = vin.encode()
    return with_bcc(bytes(f))


def report(vin, i):
    f = bytearray(REPORT)
    f[3:20] = vin.encode()
    for at in (24, 24 + 9):  # send time and the OBD block's time, moved by i seconds
        f[at + 3] = 10 + i // 3600
        f[at + 4] = i // 60 % 60
        f[at + 5] = i % 60
    return with_bcc(bytes(f))


class Server:
    """A lantiand on a fresh data directory: terminal port (hj1239 TCP), API and admin ports."""

    def __init__(self, bin_dir, *options, data_dir=None):
        self.dir = data_dir or tempfile.mkdtemp(prefix="lantian-attack-")
        self.bin = os.path.join(bin_dir, "lantiand")
        self.admin_token = None
        if data_dir is None:  # a new archive: an admin token for the API attacks
            out = subprocess.run([self.bin, "token", "create", "--data-dir", self.dir, "--role",
                                  "admin", "--label", "attacks"], capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError("token create: " + out.stdout + out.stderr)
            self.admin_token = out.stdout.split()[0]
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        self.proc = subprocess.Popen(
            [self.bin, "--data-dir", self.dir, "--listen", "tcp://127.0.0.1:0?profile=hj1239",
             "--admin", "127.0.0.1:0", "--api", "127.0.0.1:0", "--sync", "always", *options],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self.api = self.admin = None
        for _ in range(300):
            text = open(self.log.name).read()
            self.port = self.port or first(r"event=listening .* port=(\d+)", text)
            self.api = self.api or first(r"event=api_listening port=(\d+)", text)
            self.admin = self.admin or first(r"event=admin_listening port=(\d+)", text)
            if self.port and self.api and self.admin:
                return
            time.sleep(0.1)
        raise RuntimeError("lantiand did not start:\n" + open(self.log.name).read())

    def metrics(self):
        c = http.client.HTTPConnection("127.0.0.1", self.admin, timeout=10)
        c.request("GET", "/metrics")
        text = c.getresponse().read().decode()
        out = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
        return out

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            return int(first(r"VmRSS:\s+(\d+)", f.read())) / 1024

    def audit_bytes(self):
        """Bytes of the data directory (the audit family grows there)."""
        total = 0
        for base, _, files in os.walk(self.dir):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(base, name))
                except OSError:
                    pass
        return total

    def stop(self, keep=False):
        self.proc.terminate()
        self.proc.wait(timeout=60)
        self.log.close()
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.log.close()

    def simulate(self, bin_dir, seconds, acked_out):
        """The simulator's 200 国六 trucks for `seconds`, in the background."""
        return subprocess.Popen(
            [os.path.join(bin_dir, "lantian-sim"), "--connect", f"tcp://127.0.0.1:{self.port}",
             "--preset", "guo6", "--vehicles", "200", "--truck-profile", "hj1239", "--window", "4",
             "--duration", str(seconds), "--reply-timeout", "3", "--progress", "0",
             "--acked-out", acked_out],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def first(pattern, text):
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def connect(port, source="127.0.0.1", timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    return s


def https(port, token, path="/api/v1/me", source="127.0.0.1", timeout=10):
    """One HTTPS GET on a new connection; the status, or 0 when there was no answer."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        c = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx,
                                        source_address=(source, 0))
        c.request("GET", path, headers={"Authorization": "Bearer " + token})
        return c.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0


def read_replies(sock, wanted, deadline):
    """Reads until `wanted` frames arrived (counted by their start pairs) or the deadline."""
    got, buffered = 0, b""
    sock.settimeout(0.2)
    end = time.monotonic() + deadline
    while got < wanted and time.monotonic() < end:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return got, True
        if not data:
            return got, True
        buffered += data
        got = buffered.count(b"##")
    return got, False


def counter(m, name, label=None):
    key = name if label is None else name + "{" + label + "}"
    return int(m.get(key, 0))


def closed_count(m, reason):
    return counter(m, "lantian_connections_closed_total", 'reason="' + reason + '"')


def refused_api(m, reason):
    return counter(m, "lantian_api_refused_total", 'reason="' + reason + '"')


# --- the attacks ----------------------------------------------------------------------------------

def anonymous_flood(bin_dir):
    s = Server(bin_dir)
    try:
        before = s.audit_bytes()
        statuses = {}
        lock = threading.Lock()
        stop = time.monotonic() + 20

        def client():
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            c = None
            while time.monotonic() < stop:
                try:
                    if c is None:
                        c = http.client.HTTPSConnection("127.0.0.1", s.api, timeout=10, context=ctx)
                    c.request("GET", "/api/v1/me?" + "x" * 1900,
                              headers={"Authorization": "Bearer lt_" + "0" * 64})
                    r = c.getresponse()
                    r.read()
                    status = r.status
                    if r.getheader("Connection", "").lower() == "close":
                        c.close()
                        c = None
                except (OSError, http.client.HTTPException):
                    status, c = 0, None
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1

        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        time.sleep(1)
        m = s.metrics()
        grown = (s.audit_bytes() - before) / 1e6
        user = https(s.api, s.admin_token, source="127.0.0.2")
        print(f"anonymous_flood: 20 s: {statuses.get(401, 0)} × 401, {statuses.get(429, 0)} × 429, "
              f"{statuses.get(0, 0)} without answer; data directory +{grown:.1f} MB; "
              f"audit entries not written one by one "
              f"{counter(m, 'lantian_api_audit_unlogged_total')}; "
              f"another address's user: {user}")
    finally:
        s.stop()


def idle_api(bin_dir):
    s = Server(bin_dir)
    try:
        idle = []
        for _ in range(1000):
            try:
                idle.append(connect(s.api))
            except OSError:
                break
        time.sleep(0.5)
        started = time.monotonic()
        other = https(s.api, s.admin_token, source="127.0.0.2")
        other_s = time.monotonic() - started
        started = time.monotonic()
        same = 0
        while same != 200 and time.monotonic() - started < 60:
            same = https(s.api, s.admin_token, timeout=5)
        same_s = time.monotonic() - started
        m = s.metrics()
        print(f"idle_api: {len(idle)} idle connections from 127.0.0.1; a user from 127.0.0.2: "
              f"{other} in {other_s:.2f} s; from 127.0.0.1: {same} after {same_s:.1f} s; refused "
              f"per address {refused_api(m, 'max_connections_per_address')}")
        for c in idle:
            c.close()
    finally:
        s.stop()


def vin_fight(bin_dir):
    s = Server(bin_dir)
    vin = "LFWADRJF011002346"
    try:
        stop = time.monotonic() + 35
        attempts = [0]

        def attacker():
            while time.monotonic() < stop:
                try:
                    c = connect(s.port, timeout=5)
                    c.sendall(login(vin))
                    attempts[0] += 1
                    read_replies(c, 1, 2)
                    c.close()
                except OSError:
                    time.sleep(0.05)

        sent = answered = disconnects = 0
        t0 = time.monotonic()

        def real():
            nonlocal sent, answered, disconnects
            i = 0
            while time.monotonic() < stop:
                try:
                    c = connect(s.port, timeout=5, source="127.0.0.2")
                    c.sendall(login(vin))
                    got, closed = read_replies(c, 1, 3)
                    while not closed and time.monotonic() < stop:
                        c.sendall(report(vin, i))
                        i += 1
                        sent += 1
                        got, closed = read_replies(c, 1, 3)
                        answered += got
                        time.sleep(0.2)
                    c.close()
                except OSError:
                    pass
                if time.monotonic() < stop:
                    disconnects += 1
                    time.sleep(0.2)

        real_thread = threading.Thread(target=real)
        real_thread.start()
        time.sleep(1)
        attackers = [threading.Thread(target=attacker) for _ in range(50)]
        for t in attackers:
            t.start()
        for t in attackers + [real_thread]:
            t.join()
        m = s.metrics()
        logins = counter(m, "lantian_frames_total", 'kind="login/gb17691"') + \
            counter(m, "lantian_frames_total", 'kind="login/hj1239"')
        print(f"vin_fight: 35 s, {attempts[0]} attacking logins; the real terminal: {disconnects} "
              f"disconnects, {answered} of {sent} reports answered; logins received {logins}, "
              f"refused for rate "
              f"{closed_count(m, 'login_rate')}; "
              f"frames stored {counter(m, 'lantian_frames_stored_total')}")
    finally:
        s.stop()


def never_login(bin_dir):
    s = Server(bin_dir)
    try:
        silent = []
        for _ in range(1000):
            try:
                silent.append(connect(s.port))
            except OSError:
                break
        time.sleep(0.5)
        started = time.monotonic()
        t = connect(s.port)
        t.sendall(login("LFWADRJF011002346"))
        got, closed = read_replies(t, 1, 10)
        waited = time.monotonic() - started
        time.sleep(6)
        m = s.metrics()
        print(f"never_login: {len(silent)} silent connections from 127.0.0.1; a terminal of the "
              f"same address: {'answered' if got else 'refused'} in {waited:.2f} s; silent ones "
              f"closed within 6.5 s: "
              f"{closed_count(m, 'first_frame_timeout')}")
        for c in silent:
            c.close()
        t.close()
    finally:
        s.stop()


def partial_frames(bin_dir):
    s = Server(bin_dir)
    try:
        header = bytearray(LOGIN[:24])
        header[22:24] = (65000).to_bytes(2, "big")
        part = bytes(header) + bytes(60000 - 24)
        rss0 = s.rss_mib()
        conns = []
        closed = 0
        for _ in range(500):
            try:
                c = connect(s.port)
                c.sendall(part)
                conns.append(c)
            except OSError:
                closed += 1
        time.sleep(2)
        m = s.metrics()
        rss1 = s.rss_mib()
        print(f"partial_frames: 500 × 60,000 of 65,000 bytes; server RSS {rss0:.0f} → {rss1:.0f} "
              f"MiB; unfinished bytes held {counter(m, 'lantian_partial_frame_bytes') / 1e6:.1f} MB;"
              f" closed for memory "
              f"{closed_count(m, 'partial_frame_memory')}")
        for c in conns:
            c.close()
    finally:
        s.stop()


def readonly_datadir(bin_dir):
    s = Server(bin_dir)
    db = os.path.join(s.dir, "db")
    try:
        acked = os.path.join(s.dir, "acked.txt")
        sim = s.simulate(bin_dir, 14, acked)
        time.sleep(3)
        subprocess.run(["chattr", "+i", db], check=True)
        time.sleep(5)
        during = s.metrics()
        subprocess.run(["chattr", "-i", db], check=True)
        time.sleep(5)
        after = s.metrics()
        sim.wait()
        alive = s.proc.poll() is None
        print(f"readonly_datadir: lantiand {'still running' if alive else 'exited'}; archive "
              f"available while immutable {counter(during, 'lantian_storage_available')}, 5 s after "
              f"{counter(after, 'lantian_storage_available')}; storage faults "
              f"{counter(after, 'lantian_storage_faults_total')}; connections closed for it "
              f"{closed_count(after, 'storage_unavailable')}")
    finally:
        subprocess.run(["chattr", "-i", db], check=False)
        s.stop()


def damaged_wal(bin_dir):
    s = Server(bin_dir)
    data = s.dir
    acked = os.path.join(data, "acked.txt")
    try:
        sim = s.simulate(bin_dir, 10, acked)
        time.sleep(8)
        s.kill()
        sim.wait()
        db = os.path.join(data, "db")
        wal = max(f for f in os.listdir(db) if f.endswith(".log"))  # the newest
        path = os.path.join(db, wal)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\xff" * 64)
        acknowledged = sum(1 for _ in open(acked))
        s = Server(bin_dir, data_dir=data)
        m = s.metrics()
        s.stop(keep=True)
        export = os.path.join(data, "export.jsonl")
        with open(export, "w") as out:
            subprocess.run([os.path.join(bin_dir, "lantiand"), "export", "--data-dir", data],
                           stdout=out, check=True)
        check = subprocess.run([os.path.join(bin_dir, "lantian-sim"), "check-acked", acked,
                                export], capture_output=True, text=True)
        preserved = [f for f in os.listdir(data) if f.startswith("wal-preserved-")]
        print(f"damaged_wal: {acknowledged} reports acknowledged, 64 bytes damaged at "
              f"{size // 2} of {size} in {wal}; WAL damaged {counter(m, 'lantian_wal_damaged')}, "
              f"batches salvaged {counter(m, 'lantian_wal_batches_salvaged')}, writes lost "
              f"{counter(m, 'lantian_wal_writes_lost')}; check-acked: "
              f"{(check.stdout + check.stderr).strip().splitlines()[-1] if (check.stdout + check.stderr).strip() else check.returncode}; "
              f"WAL copies kept: {len(preserved)}")
    finally:
        shutil.rmtree(data, ignore_errors=True)


ATTACKS = {f.__name__: f for f in (anonymous_flood, idle_api, vin_fight, never_login,
                                   partial_frames, readonly_datadir, damaged_wal)}

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in sys.argv[2:] or ATTACKS:
        ATTACKS[name](sys.argv[1])
