// commands/accept.ts: `tlsify accept`, the server side: the accepted socket (fds 0/1, or
// --net-fd), the handshake, the client's verdict, then plaintext: PROGRAM's pipes, or our own
// stdin/stdout. Events and commands as for connect (protocol/control.md); the end has one reason.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable, finished } from 'node:stream';
import { TlsifyError, asTlsifyError, exitStatus, type Code, type ReplyCode } from '../codes.ts';
import type { AcceptConfig } from '../config.ts';
import { noControl, openControl, type ControlChannel } from '../control/channel.ts';
import type { Fields, Line } from '../control/frame.ts';
import { userEnv } from '../env.ts';
import type { Log } from '../log.ts';
import { adopt, type Transport } from '../net/dial.ts';
import { plaintextIn, plaintextOut } from '../stdio.ts';
import { startPump, type Pump, type PumpStreams } from '../tls/pump.ts';
import { readSecret } from '../secret.ts';
import { acceptTls, prepareServer, type PreparedServer, type ServerHandshake } from '../tls/server.ts';
import { loadPolicy } from '../trust/load.ts';
import { describeReference } from '../trust/names.ts';
import { verifyClient, type ClientCheck, type Verified } from '../trust/verify.ts';
import { PROTOCOL_VERSION, VERSION } from '../version.ts';
import { verdictEvents } from './events.ts';

export async function runAccept(cfg: AcceptConfig, log: Log): Promise<number> {
  const netFd = cfg.netFd ?? 0;
  // inetd puts the connection on fd 2 as well, and systemd (Accept=yes) passes it as fd 3 too:
  // logs or events written there would go to the client inside the TLS stream's TCP.
  const stderrIsNetwork = sameFile(2, netFd);
  const quiet = stderrIsNetwork ? silent : log;
  const controlIsNetwork = cfg.controlFd !== undefined && sameFile(cfg.controlFd, netFd);
  if (controlIsNetwork) quiet.warn({ fd: cfg.controlFd }, 'the control fd is the network socket (systemd Accept=yes passes it as fd 3): no control channel');
  const controlFd = controlIsNetwork ? undefined : cfg.controlFd;
  const control = controlFd === undefined ? noControl : openControl(controlFd, (err) =>
    quiet.warn({ err: err.message, fd: controlFd }, 'control channel lost; the data keeps flowing'),
  );
  control.send('hello', { proto: PROTOCOL_VERSION, tlsify: VERSION, pid: process.pid });

  const session = new Session(cfg, quiet, control, stderrIsNetwork ? 'ignore' : 'inherit');
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => session.abort(signal, signal));
  control.onCommand((line) => session.command(line));
  // A session left waiting on nothing would let Node exit 0 without an end line: that is a bug.
  process.once('beforeExit', () => session.stalled());
  return session.run();
}

/** The parent's commands and the fields each takes (protocol/control.md §5); no --hold here. */
const commandFields: Record<string, readonly string[]> = { close: [], abort: [] };

/** How PROGRAM ended, as a shell reports it: the exit code, or 128 + the signal number. */
interface ProgramExit {
  readonly status: number;
  readonly fields: Fields;
}

class Session {
  private transport: Transport | undefined;
  private hs: ServerHandshake | undefined;
  private pump: Pump | undefined;
  private program: { readonly child: ChildProcess; readonly exited: Promise<ProgramExit> } | undefined;
  private settle!: (status: number) => void;
  private readonly result = new Promise<number>((resolve) => (this.settle = resolve));
  private ended = false;
  private endSent = false;
  /** Whether the client's stream ended (or failed) before we sent close_notify: see exitFor. */
  private peerGoneFirst: boolean | undefined;
  private closeSent = false;

  constructor(
    private readonly cfg: AcceptConfig,
    private readonly log: Log,
    private readonly control: ControlChannel,
    private readonly programStderr: 'inherit' | 'ignore',
  ) {}

  run(): Promise<number> {
    this.establish().catch((err) => this.end(asTlsifyError(err)));
    return this.result;
  }

  private async establish(): Promise<void> {
    const { cfg } = this;
    if (cfg.ticketKeyFile !== undefined && cfg.clientAuth !== 'none') {
      // A resumed session carries the client's leaf alone: its path could not be validated again.
      throw new TlsifyError('usage', '--tickets and --client-auth exclude each other: a resumed session keeps only the client\'s leaf certificate, so its path cannot be checked again');
    }
    if (cfg.clientPolicy.ocsp !== 'off') throw new TlsifyError('usage', '--ocsp checks a stapled response, and clients do not staple: check client certificates with --crl');
    const check = this.clientCheck();
    const secretOptions = { reservedFds: this.reservedFds() };
    const passphrase = cfg.pass === undefined ? undefined : readSecret(cfg.pass, '--pass', userEnv, secretOptions);
    let prepared: PreparedServer;
    try {
      prepared = prepareServer(
        { ...cfg, passphrase, secretOptions, clientCa: check.mode === 'none' ? undefined : check.lp.anchors.pems, sessionIdContext: sessionIdContext() },
        new Date(),
        (message, fields) => this.log.warn(fields, message),
      );
    } finally {
      passphrase?.fill(0);
    }
    if (cfg.program) findProgram(cfg.program[0]!, userEnv.PATH);

    this.transport = adoptNetwork(cfg.netFd);
    const t = this.transport;
    this.emit('connected', { address: t.remoteAddress, port: t.remotePort, 'local-address': t.localAddress, 'local-port': t.localPort, fd: cfg.netFd });

    const hs = await acceptTls(prepared, t, cfg.handshakeTimeoutMs);
    this.hs = hs;
    if (this.ended) return void hs.socket.destroy();
    this.emit('handshake', { version: hs.version, cipher: hs.cipher, alpn: hs.alpn ?? '', sni: hs.sni ?? '', resumed: hs.resumed });

    const verified = verifyClient(check, hs.evidence, new Date(), (event, fields) => this.emit(event, fields));
    for (const [name, fields] of verdictEvents(verified, cfg.clientPolicy)) {
      // No --client-name: no identity to name, rather than an empty field (control.md §2.1).
      this.emit(name, fields.identity === '' ? { ...fields, identity: undefined } : fields);
    }
    this.flow(verified, hs);
  }

  /** Descriptors an fd:N secret must not name. */
  private reservedFds(): Map<number, string> {
    const fds = new Map<number, string>([[this.cfg.netFd ?? 0, 'the network connection']]);
    if (this.cfg.controlFd !== undefined) fds.set(this.cfg.controlFd, 'the control channel');
    return fds;
  }

  private clientCheck(): ClientCheck {
    const { cfg } = this;
    if (cfg.clientAuth === 'none') return { mode: 'none' };
    const lp = loadPolicy(cfg.clientPolicy, this.log);
    const p = cfg.clientPolicy;
    this.emit('trust', { set: lp.anchors.name, anchors: lp.anchors.size, pins: p.pins.length || undefined, 'pin-mode': p.pins.length ? p.pinMode : undefined, tlsa: p.tlsa.length || undefined, crls: lp.crls.length || undefined });
    return { mode: cfg.clientAuth, lp };
  }

  /** Plaintext moves only from here, after the verdict: PROGRAM starts now, not before. */
  private flow(v: Verified, hs: ServerHandshake): void {
    this.emit('ready');
    // Our half is done once close_notify has left (the relay flushed and ended) or the relay died.
    const writeDone = new Promise<void>((resolve) => {
      hs.relay.once('finish', resolve);
      hs.relay.once('close', resolve);
    });
    let io: PumpStreams;
    const argv = this.cfg.program;
    if (argv) {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', this.programStderr], env: programEnv(userEnv, hs, v, this.cfg.pass) });
      this.program = { child, exited: exitOf(child) };
      child.once('error', (err: NodeJS.ErrnoException) => this.abortWith(new TlsifyError('config', `cannot run '${argv[0]}': ${err.code ?? err.message}`)));
      this.emit('program', { pid: child.pid, path: argv[0] });
      io = { input: child.stdout!, output: new ServerSink(child.stdin!, writeDone, true) };
    } else {
      io = { input: plaintextIn(0), output: new ServerSink(plaintextOut(1), writeDone, false) };
    }
    const peerGone = (): void => void (this.peerGoneFirst ??= !this.closeSent);
    for (const event of ['end', 'error', 'close']) hs.socket.once(event, peerGone);
    this.pump = startPump(v, hs, io, this.cfg.closeOnEof, {
      closeSent: (reason) => {
        this.closeSent = true;
        this.emit('close-sent', { reason: argv && reason === 'stdin-eof' ? 'program-eof' : reason });
      },
      done: (end) => this.end(new TlsifyError(end.code, argv ? end.message.replace('writing stdout', "writing to PROGRAM's stdin").replace('reading stdin', "reading PROGRAM's stdout") : end.message)),
    });
  }

  /** Every event goes to the control channel, and to the log at info level (without the DER). */
  private emit(name: string, fields: Fields = {}): void {
    if (this.endSent) return;
    if (name === 'end') this.endSent = true;
    this.control.send(name, fields);
    this.log.info({ event: name, ...fields, der: undefined }, name);
  }

  command(line: Line): void {
    if (this.ended) return;
    const takes = commandFields[line.name];
    if (takes === undefined) {
      return this.reply('unknown-command', `expected one of ${Object.keys(commandFields).join(', ')}, got '${line.name}'`);
    }
    const extra = [...line.fields.keys()].find((key) => !takes.includes(key));
    if (extra !== undefined) return this.reply('unknown-field', `${line.name} takes no fields, got '${extra}'`);
    if (line.name === 'abort') return this.abort('the abort command');
    if (!this.pump) return this.abort('the close command, which came before the verdict');
    this.emit('ok', { command: 'close' });
    this.pump.close();
  }

  private exitFor(err: TlsifyError, exit: ProgramExit | undefined): number {
    return exitStatusFor(err.code, exit, this.peerGoneFirst ?? true);
  }

  stalled(): void {
    this.end(new TlsifyError('internal', 'the session stalled: nothing was left to wait for, and no end'));
  }

  private reply(code: ReplyCode, message: string): void {
    this.emit('error', { code, message });
  }

  /** Signals reach PROGRAM too: it is the service, and tlsify waits for it to exit. */
  abort(why: string, signal?: NodeJS.Signals): void {
    if (signal && this.program && this.program.child.exitCode === null) this.program.child.kill(signal);
    this.abortWith(new TlsifyError('aborted', `stopped by ${why}`));
  }

  private abortWith(err: TlsifyError): void {
    if (this.pump && err.code === 'aborted') this.pump.abort(err.message);
    else this.end(err);
  }

  private end(err: TlsifyError): void {
    if (this.ended) return;
    this.ended = true;
    if (err.code !== 'ok') this.log.error({ code: err.code, exit: exitStatus(err.code), stack: err.code === 'internal' ? err.stack : undefined }, err.message);
    this.hs?.socket.destroy();
    this.transport?.socket.destroy();
    void (this.program?.exited ?? Promise.resolve(undefined)).then((exit) => {
      if (exit) this.emit('exited', exit.fields);
      const status = this.exitFor(err, exit);
      this.emit('end', { code: err.code, exit: status, message: err.message });
      void this.control.flush(2000).then(() => this.settle(status));
    });
  }
}

/**
 * README "Exit status". Without PROGRAM: the outcome's code, as for connect. With PROGRAM, as
 * inetd and s6-tlsd (which execs into it) report a service: its status when it failed (128 + N
 * for signal N); else the outcome's code, unless the client's stream ended only after PROGRAM's
 * output was complete and close_notify sent: a client that then drops TCP without its own
 * close_notify (Python's ssl, many browsers) cut nothing anyone was reading. `end code=` and
 * the log still say truncated.
 */
function exitStatusFor(code: Code, program: ProgramExit | undefined, peerGoneFirst: boolean): number {
  if (!program) return exitStatus(code);
  if (program.status !== 0) return program.status;
  return peerGoneFirst ? exitStatus(code) : 0;
}

/**
 * The plaintext sink of a server session. pump.ts ends a session once the client's data has all
 * been delivered (the output's 'finish'); a server must still get its reply out after the client
 * half-closes, so this sink finishes only when our half is done too (`writeDone`). With
 * `lenient`, a reader that went away (PROGRAM exited) is not an error: its data is dropped.
 */
class ServerSink extends Writable {
  private dropping = false;
  private waiting: (() => void) | undefined;

  constructor(private readonly dest: Writable, private readonly writeDone: Promise<void>, private readonly lenient: boolean) {
    super({ highWaterMark: 64 * 1024 });
    dest.on('error', (err: NodeJS.ErrnoException) => {
      if (!this.lenient || (err.code !== 'EPIPE' && err.code !== 'ECONNRESET')) return void this.destroy(err);
      this.dropping = true;
      this.release();
    });
    dest.on('drain', () => this.release());
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    if (this.dropping || this.dest.write(chunk)) return done();
    this.waiting = () => done();
  }

  override _final(done: (err?: Error | null) => void): void {
    // stream.finished also settles for a dest already gone: node:child_process destroys the
    // child's stdin when it exits, and end() on a destroyed stream never calls back.
    const flushed = new Promise<void>((resolve) => finished(this.dest, { readable: false }, () => resolve()));
    if (!this.dropping) this.dest.end();
    void Promise.all([flushed, this.writeDone]).then(() => done());
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.dest.destroy();
    done(err);
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/** fd 0 (inetd, tcpserver, systemd Accept=yes: one socket on fds 0 and 1) or --net-fd N. */
function adoptNetwork(netFd: number | undefined): Transport {
  if (netFd !== undefined) return adopt(netFd);
  try {
    return adopt(0);
  } catch (err) {
    if (!(err instanceof TlsifyError)) throw err;
    throw new TlsifyError('connect', `${err.message.replace('--net-fd 0: ', 'fd 0: ')} (without --net-fd, the accepted connection is fds 0 and 1, as inetd and tcpserver pass it)`);
  }
}

function sameFile(a: number, b: number): boolean {
  try {
    const x = fs.fstatSync(a);
    const y = fs.fstatSync(b);
    return x.dev === y.dev && x.ino === y.ino;
  } catch {
    return false;
  }
}

const silent: Log = { error() {}, warn() {}, info() {}, debug() {} };

/** Tickets resume only between processes with the same command line (tls sessionIdContext). */
function sessionIdContext(): string {
  return crypto.createHash('sha256').update(process.argv.slice(2).join('\0')).digest('hex').slice(0, 32);
}

/** Names tlsify sets for PROGRAM (README "Server side"); inherited values must not pass for facts. */
const ucspiNames = ['SSL_PROTOCOL', 'SSL_CIPHER', 'SSL_TLS_SNI_SERVERNAME', 'SSL_PEER_CERT_SUBJECT', 'SSL_PEER_CERT_HASH'];
/** systemd's socket-activation variables describe fds PROGRAM does not get. */
const dropped = ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES'];

function programEnv(base: NodeJS.ProcessEnv, hs: ServerHandshake, v: Verified, pass: string | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  const secretVar = pass?.startsWith('env:') ? pass.slice(4) : undefined;
  for (const [name, value] of Object.entries(base)) {
    if (name.startsWith('TLSIFY_') || ucspiNames.includes(name) || dropped.includes(name) || name === secretVar) continue;
    env[name] = value;
  }
  env.SSL_PROTOCOL = hs.version;
  env.SSL_CIPHER = hs.opensslCipher;
  if (hs.sni !== undefined) env.SSL_TLS_SNI_SERVERNAME = hs.sni;
  if (hs.alpn !== undefined) env.TLSIFY_ALPN = hs.alpn;
  const leaf = v.path[0];
  env.TLSIFY_PEER_VERIFIED = leaf ? 'yes' : 'none';
  if (leaf) {
    env.SSL_PEER_CERT_SUBJECT = leaf.subject;
    // libtls's tls_peer_cert_hash() form, which s6-tlsd exports: 'SHA256:' and lower-case hex.
    env.SSL_PEER_CERT_HASH = `SHA256:${crypto.createHash('sha256').update(leaf.der).digest('hex')}`;
    env.TLSIFY_PEER_PIN = leaf.pin;
    if (v.identity) env.TLSIFY_PEER_IDENTITY = describeReference(v.identity.reference);
  }
  return env;
}

function exitOf(child: ChildProcess): Promise<ProgramExit> {
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      if (signal) resolve({ status: 128 + (os.constants.signals[signal] ?? 0), fields: { signal } });
      else resolve({ status: code ?? 0, fields: { status: code ?? 0 } });
    });
    child.once('error', () => resolve({ status: exitStatus('config'), fields: { status: 'not-started' } }));
  });
}

/** Fail before the handshake, not after it, when PROGRAM cannot be run (spawn searches env PATH). */
function findProgram(name: string, pathVar: string | undefined): void {
  const dirs = name.includes('/') ? [''] : (pathVar ?? '/usr/local/bin:/usr/bin:/bin').split(':');
  for (const dir of dirs) {
    const file = dir === '' && name.includes('/') ? name : path.join(dir || '.', name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return;
    } catch {
      // not here
    }
  }
  throw new TlsifyError('config', `PROGRAM '${name}': expected an executable file${name.includes('/') ? '' : ' in $PATH'}, got none`);
}
