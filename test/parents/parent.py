#!/usr/bin/env python3
"""test/parents/parent.py: a Python parent of tlsify, as protocol/control.md §1 describes one.

It spawns `tlsify connect`, passes the control channel on fd 3 (`pass_fds`), sends a request on
stdin and reads the reply on stdout and the event lines on fd 3 at the same time.

  --fd3 socketpair  both ways: after the reply it sends the `close` command and expects
                    `ok command=close`, then `close-sent reason=command`.
  --fd3 pipe        events only: stdin EOF ends the request, so `close-sent reason=stdin-eof`.

It checks what it got, prints it as one JSON object on stdout, and exits 1 on any mismatch,
saying expected / got on stderr.
"""
import argparse
import fcntl
import json
import os
import selectors
import socket
import subprocess
import sys
import time

CONTROL_FD = 3  # tlsify's default control fd (protocol/control.md §1)


def unescape(value):
    """Undo the %XX escaping of protocol/control.md §2: the escapes are bytes of UTF-8."""
    raw = value.encode()
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == 0x25:
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()


def parse_event(line):
    """`NAME key=value ...` -> (name, {key: value})."""
    name, *tokens = line.split(" ")
    fields = {}
    for token in tokens:
        key, _, value = token.partition("=")
        fields[key] = unescape(value)
    return name, fields


def fd_is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def give_child_fd3(child_fd, our_fd):
    """Put child_fd on descriptor 3 for the child; returns our_fd's number, moved if it sat on 3.

    pass_fds keeps a descriptor's number, so the number must be right in the parent already.
    """
    if our_fd == CONTROL_FD:
        moved = fcntl.fcntl(our_fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(our_fd)
        our_fd = moved
    if child_fd != CONTROL_FD:
        if fd_is_open(CONTROL_FD):
            sys.exit(f"parent.py: expected fd {CONTROL_FD} to be free for the control channel, got it in use")
        os.dup2(child_fd, CONTROL_FD)
        os.close(child_fd)
    return our_fd


class Mismatch(Exception):
    pass


def expect(ok, what, got):
    if not ok:
        raise Mismatch(f"expected {what}, got {got!r}")


def run(args):
    if fd_is_open(CONTROL_FD):
        sys.exit(f"parent.py: expected fd {CONTROL_FD} free at start, got it open")
    if args.fd3 == "socketpair":
        theirs, ours = socket.socketpair()
        ours_fd = give_child_fd3(theirs.detach(), ours.detach())
        control = socket.socket(fileno=ours_fd)
    else:
        read_end, write_end = os.pipe()
        ours_fd = give_child_fd3(write_end, read_end)
        control = os.fdopen(ours_fd, "rb", buffering=0)

    argv = [args.tlsify, "connect", args.target, "--ca", args.ca]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(CONTROL_FD,))
    os.close(CONTROL_FD)  # the child has its copy; ours would keep the channel from ever ending

    request = args.request.encode()
    if args.fd3 == "pipe":
        proc.stdin.write(request)
        proc.stdin.close()  # stdin EOF: tlsify sends close_notify after the request

    events, reply = [], b""
    pending = b""
    request_sent = close_sent = timed_out = False
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "stdout")
    sel.register(control, selectors.EVENT_READ, "control")
    deadline = time.monotonic() + args.timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            proc.kill()
            break
        for key, _ in sel.select(left):
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                sel.unregister(key.fileobj)
                continue
            if key.data == "stdout":
                reply += data
            else:
                pending += data
                *lines, pending = pending.split(b"\n")
                events += [parse_event(line.decode()) for line in lines]
            if args.fd3 == "socketpair":
                if not request_sent and any(name == "ready" for name, _ in events):
                    proc.stdin.write(request)  # stdin stays open: the close command ends this session
                    proc.stdin.flush()
                    request_sent = True
                if reply.endswith(b"\n") and not close_sent:
                    control.sendall(b"close\n")  # graceful: tlsify sends close_notify now
                    close_sent = True
    status = proc.wait()
    if not proc.stdin.closed:
        proc.stdin.close()
    control.close()
    return timed_out, status, reply.decode(), events, pending


def check(args, timed_out, status, reply, events, leftover):
    expect(not timed_out, f"tlsify to finish within {args.timeout} s", "a timeout (killed it)")
    names = [name for name, _ in events]
    first = dict(events[0][1]) if events else {}
    expect(names[:1] == ["hello"], "the greeting `hello` first", names[:1])
    expect(first.get("proto") == "1", "hello proto=1", first.get("proto"))
    expect(leftover == b"", "every event line to end in LF", leftover)
    handshake = next((f for n, f in events if n == "handshake"), {})
    expect(handshake.get("version", "").startswith("TLSv1."), "a handshake line with version=TLSv1.x", handshake)
    certs = [f for n, f in events if n == "cert"]
    expect(len(certs) >= 2, "at least 2 cert lines (leaf and anchor)", len(certs))
    for cert in certs:
        expect(cert.get("pin", "").startswith("sha256/"), "cert pin=sha256/...", cert.get("pin"))
    expect(certs[0].get("role") == "leaf", "the first cert line to be the leaf", certs[0].get("role"))
    expect("verified" in names and "ready" in names, "verified and ready", names)
    expect(names.index("verified") < names.index("ready"), "verified before ready", names)
    if args.fd3 == "socketpair":
        expect(("ok", {"command": "close"}) in events, "ok command=close", names)
        closing = [f.get("reason") for n, f in events if n == "close-sent"]
        expect(closing == ["command"], "one close-sent reason=command", closing)
        expect(names.index("ok") < names.index("close-sent"), "ok before close-sent", names)
    else:
        closing = [f.get("reason") for n, f in events if n == "close-sent"]
        expect(closing == ["stdin-eof"], "one close-sent reason=stdin-eof", closing)
    end = events[-1][1] if events else {}
    expect(names[-1:] == ["end"], "`end` as the last line", names[-1:])
    expect(end.get("code") == "ok" and end.get("exit") == "0", "end code=ok exit=0", end)
    expect(status == 0, "tlsify exit status 0", status)
    expect(reply == args.expect, f"the reply {args.expect!r}", reply)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tlsify", required=True)
    p.add_argument("--target", required=True, help="HOST:PORT")
    p.add_argument("--ca", required=True)
    p.add_argument("--fd3", choices=("socketpair", "pipe"), required=True)
    p.add_argument("--request", required=True)
    p.add_argument("--expect", required=True, help="the exact reply")
    p.add_argument("--timeout", type=float, default=15)
    args = p.parse_args()
    timed_out, status, reply, events, leftover = run(args)
    print(json.dumps({"status": status, "reply": reply, "events": [[n, f] for n, f in events]}))
    try:
        check(args, timed_out, status, reply, events, leftover)
    except Mismatch as err:
        print(f"parent.py ({args.fd3}): {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
