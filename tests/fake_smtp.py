#!/usr/bin/env python3
"""A tiny scripted SMTP server for tests/test_probe.sh.

It plays the servers `relaypol probe` must cope with: closed, open,
greylisting (4xx), multi-line replies, 421 mid-session, a dropped
connection, a server that stops answering, one that refuses EHLO or the
whole session.  It listens on 127.0.0.1 (or ::1) port 0, writes the port
the kernel chose to --port-file, logs every command line it receives to
--log ("CONN LINE"), and exits by itself after --lifetime seconds so that
a test that dies cannot leave it behind.  Python standard library only.

RCPT TO replies: 250 when the argument (as sent, with its angle brackets)
matches --accept, 450 when it matches --defer, 550 otherwise.  Counters
(--close-at, --close-from, --drop-at, --hang-at) count RCPT commands over the server's
whole life, from 1.

SPDX-License-Identifier: BSD-2-Clause
"""
import argparse
import os
import re
import socket
import socketserver
import sys
import threading
import time

opts = None
lock = threading.Lock()
rcpt_count = 0
conn_count = 0


def log(conn, line):
    if opts.log:
        with lock, open(opts.log, "a", encoding="utf-8", errors="replace") as f:
            f.write("%d %s\n" % (conn, line))


class Dropped(Exception):
    pass


class Handler(socketserver.StreamRequestHandler):
    def send(self, code, *texts):
        """One reply; several texts make a multi-line reply, each line
        written and flushed on its own so that the client sees it arrive
        in pieces."""
        texts = texts or ("",)
        for i, t in enumerate(texts):
            sep = " " if i == len(texts) - 1 else "-"
            line = ("%d%s%s" % (code, sep, t)).rstrip(" ") + "\r\n"
            self.wfile.write(line.encode())
            self.wfile.flush()
            if opts.multiline:
                time.sleep(0.01)

    def reply(self, code, text, *more):
        if opts.multiline:
            self.send(code, text, *more)
        else:
            self.send(code, text)

    def handle(self):
        global rcpt_count, conn_count
        with lock:
            conn_count += 1
            me = conn_count
        if opts.greeting:
            code, _, text = opts.greeting.partition(" ")
            self.send(int(code), text)
            return
        self.reply(220, "fake.relaypol.test ESMTP fake_smtp",
                   "a multi-line greeting", "third line")
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("latin-1").rstrip("\r\n")
            log(me, line)
            verb = line[:4].upper()
            if verb == "EHLO":
                if opts.no_ehlo:
                    self.send(502, "5.5.2 EHLO not implemented")
                else:
                    self.reply(250, "fake.relaypol.test", "PIPELINING",
                               "8BITMIME")
            elif verb == "HELO":
                self.send(250, "fake.relaypol.test")
            elif verb == "MAIL":
                arg = line[10:]
                if opts.refuse_mail and re.search(opts.refuse_mail, arg):
                    self.send(553, "5.1.8 sender refused")
                else:
                    self.reply(250, "2.1.0 Ok", "sender ok")
            elif verb == "RCPT":
                arg = line[8:]
                with lock:
                    rcpt_count += 1
                    n = rcpt_count
                if opts.drop_always or n == opts.drop_at:
                    return  # close without a word
                if n == opts.hang_at:
                    time.sleep(opts.lifetime)
                    return
                if n == opts.close_at or 0 < opts.close_from <= n:
                    self.send(421, "4.7.0 fake.relaypol.test closing")
                    return
                if re.search(opts.accept, arg):
                    self.reply(250, "2.1.5 Ok", "recipient ok")
                elif opts.defer and re.search(opts.defer, arg):
                    self.reply(450, "4.7.1 greylisted, try again later",
                               "see https://example.invalid/greylisting")
                else:
                    self.reply(550, "5.7.1 relaying denied",
                               "second line of the refusal",
                               "third line")
            elif verb == "RSET":
                # A bare code with no text is legal (RFC 5321 4.2).
                self.send(250, "" if opts.multiline else "2.0.0 Ok")
            elif verb == "NOOP":
                self.send(250, "2.0.0 Ok")
            elif verb == "QUIT":
                self.send(221, "2.0.0 Bye")
                return
            elif verb in ("DATA", "BDAT"):
                self.send(554, "5.5.1 this test server takes no data")
            else:
                self.send(500, "5.5.2 unknown command")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    address_family = socket.AF_INET6


def main():
    global opts
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--ipv6", action="store_true")
    ap.add_argument("--local", default="relaypol.test")
    ap.add_argument("--accept", help="regex of RCPT arguments to accept")
    ap.add_argument("--defer", help="regex of RCPT arguments to defer")
    ap.add_argument("--refuse-mail", help="regex of MAIL arguments to refuse")
    ap.add_argument("--multiline", action="store_true")
    ap.add_argument("--greeting", help="e.g. '554 go away': then close")
    ap.add_argument("--no-ehlo", action="store_true")
    ap.add_argument("--close-at", type=int, default=0)
    ap.add_argument("--close-from", type=int, default=0,
                    help="421 to every RCPT from the Nth on")
    ap.add_argument("--drop-at", type=int, default=0)
    ap.add_argument("--drop-always", action="store_true")
    ap.add_argument("--hang-at", type=int, default=0)
    ap.add_argument("--lifetime", type=float, default=60)
    opts = ap.parse_args()
    if opts.accept is None:
        opts.accept = "^<relaytest@%s>$" % re.escape(opts.local)

    cls, host = (Server6, "::1") if opts.ipv6 else (Server, "127.0.0.1")
    srv = cls((host, 0), Handler)
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, opts.port_file)
    # Exit on our own, whatever the test does.
    t = threading.Timer(opts.lifetime, lambda: os._exit(0))
    t.daemon = True
    t.start()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
