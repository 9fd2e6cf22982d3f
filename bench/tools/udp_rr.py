#!/usr/bin/env python3
"""UDP request/response round trips over IPv6 for the IOAM benchmark (Debian's sockperf
takes no IPv6 address): one 1200-byte datagram out, the same back, repeated.

  udp_rr.py server PORT             echo datagrams until killed
  udp_rr.py client IP PORT SECONDS  print the median round trip in microseconds
"""
import socket, statistics, sys, time

SIZE = 1200


def server(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", port))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)


def client(ip, port, seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.connect((ip, port))
    s.settimeout(1.0)
    msg = b"x" * SIZE
    rtts, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.perf_counter_ns()
        s.send(msg)
        try:
            s.recv(65535)
        except socket.timeout:
            continue
        rtts.append(time.perf_counter_ns() - t)
    print("%.1f" % (statistics.median(rtts) / 1000 if rtts else 0))


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(int(sys.argv[2]))
    else:
        client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
