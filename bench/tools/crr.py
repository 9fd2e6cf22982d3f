#!/usr/bin/env python3
"""Connection request/response load for the policy benchmark: every transaction opens a new
TCP connection, sends 100 bytes, reads a 200-byte answer and closes, so each one crosses the
policy at connection set-up (where rule walking happens) and not just conntrack.

  crr.py server PORT             serve until killed (single thread, non-blocking)
  crr.py client IP PORT SECONDS  print transactions per second
"""
import selectors, socket, sys, time

REQ, RESP = 100, 200


def server(port):
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("::", port))
    ls.listen(1024)
    ls.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, None)
    pending = {}
    while True:
        for key, _ in sel.select():
            if key.data is None:
                try:
                    c, _ = ls.accept()
                except BlockingIOError:
                    continue
                c.setblocking(False)
                pending[c] = 0
                sel.register(c, selectors.EVENT_READ, True)
                continue
            c = key.fileobj
            try:
                data = c.recv(4096)
            except (BlockingIOError, ConnectionError):
                data = b""
            if data:
                pending[c] += len(data)
                if pending[c] >= REQ:
                    try:
                        c.send(b"r" * RESP)
                    except OSError:
                        pass
                else:
                    continue
            sel.unregister(c)
            pending.pop(c, None)
            c.close()


def client(ip, port, seconds):
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    done, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((ip, port))
            s.sendall(b"q" * REQ)
            got = 0
            while got < RESP:
                chunk = s.recv(RESP - got)
                if not chunk:
                    break
                got += len(chunk)
            if got == RESP:
                done += 1
        except OSError:
            pass
        finally:
            s.close()
    print("%.1f" % (done / seconds))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
