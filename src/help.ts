// help.ts: the --help texts. They teach by example; flags are listed in the order people need them.
import { codes } from './codes.ts';

const exitTable = Object.entries(codes)
  .map(([name, c]) => `  ${String(c.exit).padStart(3)}  ${name.padEnd(14)} ${c.summary}`)
  .join('\n');

const main = `tlsify: TLS for programs that would rather not link a TLS library.

Usage:
  tlsify connect HOST:PORT [options]   dial, verify the peer, then relay plaintext
  tlsify demo                          a first run with no network (a local CA and server)
  tlsify --help | connect --help | --version

Plaintext goes in on stdin and comes out on stdout; events come out on fd 3 when the
parent passed one (protocol/control.md); logs go to stderr as JSON.

Examples:
  printf 'GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n' | tlsify connect example.com:443
  tlsify connect 127.0.0.1:8443 --ca ca.pem --servername localhost 3>events.txt
  tlsify connect mail.example.com --net-fd 5     # TLS over a socket already connected (STARTTLS)

Exit status:
${exitTable}
`;

const connect = `Usage: tlsify connect HOST:PORT [options]

Dial HOST:PORT (a DNS name, an IPv4 address, or [IPv6]), do TLS, verify the peer, and only
then relay stdin -> peer and peer -> stdout. Nothing is read or written before the verdict.

Trust and identity:
  --ca FILE                 trust only the PEM certificates in FILE (default: the system store,
                            SSL_CERT_FILE / SSL_CERT_DIR honoured as OpenSSL does)
  --servername NAME         the name to send as SNI and to verify instead of HOST; an IP
                            address here verifies an IP identity and sends no SNI
TLS:
  --min-tls 1.2|1.3         lowest TLS version accepted (default 1.2)
  --alpn LIST               offer these ALPN protocols, comma-separated (e.g. h2,http/1.1)
Transport:
  --net-fd N                do not dial: run TLS over the connected socket inherited on fd N;
                            HOST[:PORT] then only names the peer to verify
  --connect-timeout SEC     give up connecting after SEC seconds (default 10)
  --handshake-timeout SEC   give up on the handshake and verdict after SEC seconds (default 10)
  --close-on-eof            on stdin EOF send close_notify and exit at once; the default is to
                            half-close and keep relaying what the peer sends until it closes
Channels:
  --control-fd N|none       write events to (and read commands from) fd N (default 3, used
                            only when the parent passed it)
  --log-level LEVEL         fatal|error|warn|info|debug|trace|silent (default warn), to stderr

Examples:
  printf 'GET / HTTP/1.0\\r\\n\\r\\n' | tlsify connect 127.0.0.1:8443 --ca ca.pem --servername localhost
  tlsify connect [::1]:8443 --ca ca.pem --alpn h2,http/1.1 3>&1 >/dev/null
  tlsify connect 192.0.2.7:443 --servername 192.0.2.7   # verify an IP address identity

Exit status: see 'tlsify --help'.
`;

const demo = `Usage: tlsify demo

Makes a throw-away CA and a TLS echo server on 127.0.0.1, runs a real 'tlsify connect'
child against it with the control channel on fd 3, and shows the transcript and the echoed
data. Needs no network; leaves nothing behind.
`;

export const helpTexts = { main, connect, demo } as const;
