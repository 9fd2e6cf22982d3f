#!/usr/bin/env python3
"""Keep one TCP or UDP echo session busy and report how it fared, for migration tests
and benchmarks.

Sends a numbered line every INTERVAL seconds (TCP: on one connection; UDP: datagrams from
one socket) and checks that every echo comes back byte for byte, in order. Runs until
DURATION passes or a file named by --stop appears, then prints one JSON object:
sent, received, mismatches, lost (UDP), max_stall_ms (the longest wait for an echo,
i.e. what a client sees of a freeze), and error (null if the session never broke).
"""
import argparse, json, os, socket, sys, time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--udp", action="store_true")
    ap.add_argument("--interval", type=float, default=0.01)
    ap.add_argument("--duration", type=float, default=30)
    ap.add_argument("--stop", help="stop when this file exists")
    ap.add_argument("--ready", help="create this file once connected")
    ap.add_argument("--timeout", type=float, default=10, help="give up on an echo after this")
    a = ap.parse_args()
    fam = socket.AF_INET6 if ":" in a.host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM if a.udp else socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    res = {"sent": 0, "received": 0, "mismatches": 0, "lost": 0, "max_stall_ms": 0.0,
           "error": None, "lost_at": []}
    try:
        s.connect((a.host, a.port))
        if a.ready:
            open(a.ready, "w").close()
        end = time.monotonic() + a.duration
        buf = b""
        seq = 0
        while time.monotonic() < end and not (a.stop and os.path.exists(a.stop)):
            msg = b"petrel-echo %08d %s\n" % (seq, b"x" * 32)
            t0 = time.monotonic()
            s.sendall(msg) if not a.udp else s.send(msg)
            res["sent"] += 1
            if a.udp:
                # Datagrams: take what comes back until ours arrives or the timeout hits.
                while True:
                    try:
                        got = s.recv(2048)
                    except socket.timeout:
                        res["lost"] += 1
                        res["lost_at"].append(time.strftime("%H:%M:%S", time.localtime(time.time() - a.timeout)))
                        break
                    if got == msg:
                        res["received"] += 1
                        break
                    if not got.startswith(b"petrel-echo"):
                        res["mismatches"] += 1
            else:
                while b"\n" not in buf:
                    chunk = s.recv(4096)
                    if not chunk:
                        raise ConnectionError("connection closed by the server")
                    buf += chunk
                line, buf = buf.split(b"\n", 1)
                if line + b"\n" != msg:
                    res["mismatches"] += 1
                else:
                    res["received"] += 1
            res["max_stall_ms"] = max(res["max_stall_ms"], (time.monotonic() - t0) * 1000)
            seq += 1
            time.sleep(a.interval)
    except Exception as e:  # the session broke: that is the result
        res["error"] = "%s: %s" % (type(e).__name__, e)
    res["max_stall_ms"] = round(res["max_stall_ms"], 1)
    print(json.dumps(res))
    return 0 if res["error"] is None and res["mismatches"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
