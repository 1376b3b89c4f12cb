// help.ts: the --help texts. They teach by example; flags are listed in the order people need them.
import { codes } from './codes.ts';

const exitTable = Object.entries(codes)
  .map(([name, c]) => `  ${String(c.exit).padStart(3)}  ${name.padEnd(14)} ${c.summary}`)
  .join('\n');

const trustOptions = `  --srv-id _SERVICE.NAME     also accept this SRV-ID (RFC 4985), e.g. _xmpp-client.example.com
  --uri-id URI              also accept this URI-ID, e.g. sip:example.com
Trust (the union of the CA sets; default: system):
  --ca-set SET              system | bundled | system-no-local | file:PATH | dir:PATH | @NAME | none
                            (@NAME is $XDG_CONFIG_HOME/tlsify/ca-sets/NAME.pem); repeatable
  --ca FILE                 short for --ca-set file:FILE
  --pin PIN                 the validated path (anchor included) must hold this SPKI; forms:
                            sha256//B64, sha256/B64, pin-sha256="B64"; repeatable or ';'-separated
  --pin-report-only         report a pin mismatch, do not reject for it
  --pin-only                pins replace CA validation: the leaf key must match a pin; no CA,
                            name or expiry check (as DANE-EE); for self-signed private servers
  --tlsa 'U S M HEX'        DANE: a TLSA record (usage 2 DANE-TA or 3 DANE-EE); repeatable; TLSA
                            records then alone authenticate (RFC 7671), so no --ca/--ca-set
  --crl FILE                check the path against the CRLs in FILE (several in one file work)
  --ocsp off|check|require  ask for a stapled OCSP response and check it; require rejects a
                            missing or unusable one (default off; must-staple certificates
                            always need one under check)
`;

const main = `tlsify: TLS for programs that would rather not link a TLS library.

Usage:
  tlsify connect HOST:PORT [options]   dial, verify the peer, then relay plaintext
  tlsify accept [options] [-- PROG...] the server side: inetd/UCSPI style, or a socket on --net-fd
  tlsify verify --chain FILE [options] the same verdict offline, on a PEM chain
  tlsify pin [FILE|-]...               SPKI pins of certificates and keys (--connect: of a server)
  tlsify pins list|add|remove|import|export   the pin store (--pin-store PATH|@NAME)
  tlsify tack genkey|sign|break|view   TACK keys, TACKs and break signatures (tackpy 0.9.7 formats)
  tlsify daemon --listen PATH          serve many connects over one unix socket (protocol/daemon.md)
  tlsify demo                          a first run with no network (a local CA and server)
  tlsify --help | COMMAND --help | --version

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

Identity (RFC 9525; names only from subjectAltName, never the CN):
  --servername NAME         the name to send as SNI and to verify instead of HOST; an IP
                            address here verifies an IP identity and sends no SNI
${trustOptions}Pin store and TACK (README "Pin stores", "TACK"):
  --pin-store PATH|@NAME|none   the pin store (default $XDG_STATE_HOME/tlsify/pins); its pins for
                            this host are always enforced
  --tofu off|learn|strict   trust on first use: learn new keys, activate them when seen again,
                            refuse a changed key while its pin is active (default off)
  --hpkp-max-age SEC        cap for max-age of headers passed with the hpkp command (default 5184000)
  --tack FILE               a TACK for this server (tackpy PEM); repeatable
  --tack-break FILE         TACK break signatures to apply
  --tack-activate           let TACK pins be learned and activated in the pin store
TLS:
  --min-tls 1.2|1.3         lowest TLS version accepted (default 1.2)
  --alpn LIST               offer these ALPN protocols, comma-separated (e.g. h2,http/1.1)
Client certificate (sent only when the server asks):
  --cert FILE --key FILE    a certificate (PEM or DER, leaf first, chain after) and its key
                            (PKCS#8, encrypted PKCS#8, PKCS#1 or SEC1; PEM or DER; or fd:N);
                            repeat the pair for one RSA and one ECDSA identity
  --pkcs12 FILE             a PKCS#12 bundle instead (or fd:N)
  --pass env:VAR|fd:N|file:PATH   the passphrase of the key or bundle (never on the command line)
                            OpenSSL picks the identity; node:tls cannot choose by the server's
                            CA list (it has no CertificateRequest callback)
Resumption (off by default: it makes connections linkable):
  --resume off|caller|file:PATH   caller: emit 'session blob=...' events for the parent to keep;
                            file: keep them in a 0600 file; a blob is used only under the same
                            host, port, SNI, ALPN, trust policy and client identity, and its
                            stored path is checked again before any plaintext
  --resume-from env:VAR|fd:N|file:PATH   the blob to offer (with --resume caller)
  --keylog FILE             append TLS secrets (NSS key log, for Wireshark) to FILE (0600);
                            SSLKEYLOGFILE works too, with a warning
Transport:
  --net-fd N                do not dial: run TLS over the connected socket inherited on fd N;
                            HOST[:PORT] then only names the peer to verify
  --connect-timeout SEC     give up connecting after SEC seconds (default 10)
  --handshake-timeout SEC   give up on the handshake and verdict after SEC seconds (default 10)
  --close-on-eof            on stdin EOF send close_notify and exit at once; the default is to
                            half-close and keep relaying what the peer sends until it closes
  --hold                    after tlsify's own checks pass, wait for 'accept' or 'reject' from the
                            parent on the control channel before any plaintext flows
  --hold-timeout SEC        reject when the parent has not answered (default 30)
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

const accept = `Usage: tlsify accept --cert FILE --key FILE [options] -- PROGRAM [ARGS...]
       tlsify accept --cert FILE --key FILE --net-fd N [options]

The server side. The accepted TCP socket is fds 0 and 1 (inetd, systemd Accept=yes,
tcpserver, s6-tcpserver) or --net-fd N (a parent that accepted it itself). With -- PROGRAM,
tlsify runs PROGRAM with plaintext pipes as its stdin and stdout and the TLS facts in its
environment (README: "Server side"); otherwise plaintext is tlsify's own stdin/stdout and
events go to fd 3. Nothing reaches the program before the handshake and the client's verdict.

Server credentials:
  --cert FILE --key FILE    a certificate chain (leaf first) and its key; repeat the pair for
                            several (e.g. RSA and ECDSA)
  --pkcs12 FILE             a PKCS#12 bundle instead
  --pass env:VAR|fd:N|file:PATH   the key passphrase (never on the command line)
  --sni NAME=CERT,KEY       serve this certificate when the client asks for NAME; repeatable
  --alpn LIST               protocols to agree to, in preference order
  --min-tls 1.2|1.3         lowest TLS version accepted (default 1.2)
  --ocsp-staple FILE        a DER OCSP response to staple
  --tickets file:KEYFILE    resume sessions across processes with stateless tickets encrypted
                            with the 48-byte key in KEYFILE (default: no resumption)
Client certificates:
  --client-auth none|optional|require   ask for a client certificate (default none)
  --client-name NAME        the client certificate must carry this DNS-ID or IP-ID; repeatable
  --client-uri-id URI       or this URI-ID (e.g. spiffe://example.org/backup)
${trustOptions}Transport:
  --net-fd N                the accepted socket is fd N, not fds 0 and 1
  --handshake-timeout SEC   give up on a client that does not finish the handshake (default 10)
  --close-on-eof, --control-fd N|none, --log-level LEVEL   as for connect

Examples:
  tcpserver 0 8443 tlsify accept --cert site.pem --key site.key -- ./service
  tlsify accept --net-fd 5 --cert site.pem --key site.key --client-auth require --ca clients.pem
`;

const verify = `Usage: tlsify verify --chain FILE (--host NAME | --ip ADDR | --srv-id ID | --uri-id URI)
                     [trust options] [--at TIME]

Runs the verdict of 'connect' on a PEM chain (leaf first) with no network: would this chain
pass this policy, now or at TIME (ISO 8601, e.g. 2027-03-01 or 2027-03-01T12:00:00Z)? Prints
the control lines connect would send and exits with the same status.

${trustOptions}
Example:
  tlsify verify --chain chain.pem --host mirror.example.org --ca-set @our-org --at 2027-03-01
`;

const pin = `Usage: tlsify pin [FILE|-]...
       tlsify pin --hpkp --backup FILE [--max-age SEC] [--include-subdomains] [FILE|-]...
       tlsify pin --connect HOST:PORT [connect and trust options]

Prints the SPKI pin of every certificate, public key or private key in the files (PEM or DER),
one line each: sha256//B64 pin-sha256="B64" SUBJECT. Nothing of a private key is printed.
With --hpkp, prints a ready Public-Key-Pins header value from those keys and the backup keys
(RFC 7469 §4.3 requires a backup; --max-age defaults to 5184000, 60 days).
With --connect, connects, verifies as 'connect' would, and prints the pins of the validated
path by depth (leaf, intermediates, anchor).

Examples:
  tlsify pin server.crt
  tlsify pin --hpkp --backup backup-key.pem server.crt
  tlsify pin --connect example.com:443
`;

const demo = `Usage: tlsify demo

Makes a throw-away CA and a TLS echo server on 127.0.0.1, runs a real 'tlsify connect'
child against it with the control channel on fd 3, and shows the transcript and the echoed
data. Needs no network; leaves nothing behind.
`;

export const helpTexts = { main, connect, accept, verify, pin, demo } as const;
