// commands/connect.ts: `tlsify connect`: transport, handshake, verdict, then plaintext.
// Every step is told on the control channel (protocol/control.md §4); the end has one reason.
import { TlsifyError, asTlsifyError, exitStatus, type Code, type ReplyCode } from '../codes.ts';
import type { ConnectConfig } from '../config.ts';
import { noControl, openControl, type ControlChannel } from '../control/channel.ts';
import type { Fields, Line } from '../control/frame.ts';
import type { Log } from '../log.ts';
import { adopt, dial, type Transport } from '../net/dial.ts';
import { plaintextIn, plaintextOut } from '../stdio.ts';
import fs from 'node:fs';
import type tls from 'node:tls';
import { readSecret } from '../secret.ts';
import { handshake, type Handshake } from '../tls/client.ts';
import { clientCertStatus } from '../tls/client-cert-status.ts';
import { loadIdentities, tlsCredentials, type ClientIdentity } from '../tls/identity.ts';
import { keylogTarget, openKeylog, type KeylogSink } from '../tls/keylog.ts';
import { bindingFor, type Binding } from '../tls/session-binding.ts';
import { SessionBlobError, decodeBlob, encodeBlob, type SessionBlob } from '../tls/session-blob.ts';
import { FileSessionStore } from '../tls/session-store.ts';
import { PRIVACY_WARNING, TicketGate, checkBlob, resumedEvidence } from '../tls/sessions.ts';
import { startPump, type Pump, type PumpStreams } from '../tls/pump.ts';
import { opensslUsesSystemStore, userEnv } from '../env.ts';
import { loadPolicy } from '../trust/load.ts';
import { opensslSystemPaths } from '../trust/store.ts';
import type { AnchorSet } from '../trust/anchors.ts';
import { verifyPeer, type LoadedPolicy, type PeerEvidence, type Verified } from '../trust/verify.ts';
import { hpkpFields, reportFields, tofuFields } from '../pinstore/events.ts';
import type { Scope } from '../pinstore/policy.ts';
import { openPinStore, type PinStore } from '../pinstore/store.ts';
import type { PinEntry } from '../pinstore/doc.ts';
import { enforceTackPins, tackPinFields } from '../pinstore/tack.ts';
import { PROTOCOL_VERSION, VERSION } from '../version.ts';
import { verdictEvents } from './events.ts';

/** For `tlsify pin --connect`: take the verdict, print from it, and close without relaying. */
export type AfterVerdict = (v: Verified) => void;

export async function runConnect(cfg: ConnectConfig, log: Log, afterVerdict?: AfterVerdict): Promise<number> {
  const control = cfg.controlFd === undefined ? noControl : openControl(cfg.controlFd, (err) =>
    log.warn({ err: err.message, fd: cfg.controlFd }, 'control channel lost; the data keeps flowing'),
  );
  control.send('hello', { proto: PROTOCOL_VERSION, tlsify: VERSION, pid: process.pid });

  const session = new Session(cfg, log, control, { afterVerdict, plaintext: stdioPlaintext });
  process.once('SIGINT', () => session.abort('SIGINT'));
  process.once('SIGTERM', () => session.abort('SIGTERM'));
  process.once('SIGHUP', () => session.abort('SIGHUP'));
  control.onCommand((line) => session.command(line));
  return session.run();
}

/** Plaintext on fds 0 and 1, opened only once the peer is verified (as before the daemon). */
const stdioPlaintext = (): PumpStreams => ({ input: plaintextIn(0), output: plaintextOut(1) });

/**
 * What the caller of a Session provides beside the config: `tlsify connect` gives fds 0/1, the
 * daemon (commands/daemon.ts) one unix socket; the daemon also shares its loaded CA sets.
 */
export interface SessionIo {
  /** Called once, after the verdict, when plaintext starts to flow. */
  readonly plaintext: () => PumpStreams;
  readonly afterVerdict?: AfterVerdict | undefined;
  /** Reads the policy's files; default trust/load.ts's loadPolicy (read each time). */
  readonly loadPolicy?: (policy: ConnectConfig['policy'], log: Log) => Omit<LoadedPolicy, 'stored'>;
  /** The daemon's RAM cache for `--resume ram`, used in place of --resume file:PATH's store. */
  readonly sessionCache?: SessionCache | undefined;
  /** The daemon's pin store, opened once; default: cfg.pinStore opened for this connection. */
  readonly pinStore?: PinStore | undefined;
  /** The daemon's named identity (`--identity NAME`), loaded at its start; default: cfg.identity's files. */
  readonly identities?: readonly ClientIdentity[] | undefined;
  /** A socket the daemon's client handed over (--send-fd); default: cfg.netFd's, or a dial. */
  readonly transport?: Transport | undefined;
  /** The daemon's shared SecureContexts (daemon/cache.ts); default: one made for this connection. */
  readonly secureContext?: ((anchors: AnchorSet, systemOnly: boolean, minTls: ConnectConfig['minTls'], ids: readonly ClientIdentity[]) => tls.SecureContext) | undefined;
}

/** What --resume needs of a store: FileSessionStore, or the daemon's RAM cache (daemon/cache.ts). */
export interface SessionCache {
  readonly path: string;
  lookup(binding: Binding): SessionBlob | undefined;
  put(blob: SessionBlob, now: Date): void;
  forget(binding: Binding): void;
}

/** The parent's commands and the fields each takes (protocol/control.md §5). */
const commandFields: Record<string, readonly string[]> = { close: [], abort: [], accept: [], reject: ['reason'], hpkp: ['header'], 'hpkp-report-only': ['header'] };

/** --resume caller|file:PATH, for one connection. */
interface Resumption {
  readonly binding: Binding;
  /** The blob offered to the server, once checkBlob let it through. */
  readonly offer: SessionBlob | undefined;
  readonly store: SessionCache | undefined;
  readonly gate: TicketGate;
}

export class Session {
  private pump: Pump | undefined;
  private resumption: Resumption | undefined;
  private keylog: KeylogSink | undefined;
  private transport: Transport | undefined;
  private hs: Handshake | undefined;
  private settle!: (status: number) => void;
  private readonly result = new Promise<number>((resolve) => (this.settle = resolve));
  private ended = false;
  private store: PinStore | undefined;
  private storedEntries: readonly PinEntry[] = [];
  private tackInput: Awaited<ReturnType<typeof import('../tack/client.ts').readTackFiles>> | undefined;
  private verified: Verified | undefined;
  /** The name and port stored pins are kept under: the verified name or address. */
  private readonly scope: Scope;
  private endSent = false;
  /** Set while --hold waits for the parent's accept or reject. */
  private verdict: ((accepted: boolean, reason: string | undefined) => void) | undefined;

  constructor(
    private readonly cfg: ConnectConfig,
    private readonly log: Log,
    private readonly control: ControlChannel,
    private readonly io: SessionIo,
  ) {
    const ref = cfg.policy.references[0]!;
    this.scope = { host: ref.type === 'dns' ? ref.name : ref.type === 'ip' ? ref.text : cfg.host, port: cfg.port };
  }

  async run(): Promise<number> {
    this.establish().catch((err) => this.end(asTlsifyError(err)));
    return this.result;
  }

  private async establish(): Promise<void> {
    const { cfg } = this;
    // The pin store is read before dialling, so a broken store stops us before any traffic.
    this.store = this.io.pinStore ?? openPinStore(cfg.pinStore, userEnv);
    const entries = this.store.entriesFor(this.scope, new Date());
    this.storedEntries = entries;
    // TACK code (and @noble with it) is loaded only when TACKs are given.
    if (cfg.tackFiles.length + cfg.tackBreakFiles.length > 0) {
      const { readTackFiles } = await import('../tack/client.ts');
      this.tackInput = await readTackFiles(cfg.tackFiles, cfg.tackBreakFiles);
    }
    const lp = { ...(this.io.loadPolicy ?? loadPolicy)(cfg.policy, this.log), stored: { entries, host: this.scope.host, port: this.scope.port } };
    this.emit('trust', {
      set: lp.anchors.name,
      anchors: lp.anchors.size,
      pins: cfg.policy.pins.length || undefined,
      'pin-mode': cfg.policy.pins.length ? cfg.policy.pinMode : undefined,
      'pin-store': this.store.name,
      stored: entries.length,
      tofu: cfg.tofu === 'off' ? undefined : cfg.tofu,
      tlsa: cfg.policy.tlsa.length || undefined,
      crls: lp.crls.length || undefined,
      ocsp: cfg.policy.ocsp === 'off' ? undefined : cfg.policy.ocsp,
    });
    // Files and secrets before dialling: a wrong passphrase or an unusable store is a config error now.
    const ids = this.io.identities ?? loadIdentities(cfg.identity, userEnv, { openFds: cfg.openFds, reservedFds: this.reservedFds(), now: new Date() });
    for (const id of ids) {
      this.emit('identity', { fingerprint: id.fingerprint, subject: id.subject, key: id.keyType, 'not-after': id.notAfter.toISOString(), source: id.source });
      for (const message of id.warnings) this.emit('warning', { code: 'client-cert', message });
    }
    this.startKeylog();
    this.resumption = this.startResumption(ids);
    const offer = this.resumption?.offer;

    this.transport = this.io.transport ?? (cfg.netFd !== undefined ? adopt(cfg.netFd) : await this.dial());
    const t = this.transport;
    if (this.ended) return void t.socket.destroy();
    this.emit('connected', { address: t.remoteAddress, port: t.remotePort, 'local-address': t.localAddress, 'local-port': t.localPort, fd: this.io.transport ? 'sent' : cfg.netFd });

    // OpenSSL's own check uses the same anchors: the system store natively, else `ca`.
    const systemOnly = cfg.policy.caSets.length === 1 && cfg.policy.caSets[0]!.kind === 'system';
    const secureContext = this.io.secureContext?.(lp.anchors, systemOnly, cfg.minTls, ids);
    const ca = secureContext || (systemOnly && opensslUsesSystemStore(opensslSystemPaths({ env: userEnv }))) ? undefined : lp.anchors.pems;
    const hs = await handshake(t, { ca, secureContext, sni: cfg.sni, alpn: cfg.alpn, minTls: cfg.minTls, timeoutMs: cfg.handshakeTimeoutMs, requestOcsp: cfg.policy.ocsp !== 'off', credentials: tlsCredentials(ids), session: offer?.ticket, onSession: this.resumption?.gate.offer, onKeylog: this.keylog?.write });
    this.hs = hs;
    if (this.ended) return void hs.socket.destroy();
    const resumed = hs.resumed && offer !== undefined;
    const cc = clientCertStatus(hs.clientCert, ids);
    const clientId = cc.identity?.fingerprint ?? (resumed ? offer.clientId : undefined);
    this.emit('handshake', { version: hs.version, cipher: hs.cipher, alpn: hs.alpn ?? '', sni: cfg.sni ?? '', resumed: hs.resumed, 'client-cert': cc.status, 'client-id': clientId });

    // A resumed connection carries no certificate (facts §5.2): the stored path is checked again,
    // against today's policy, before any plaintext moves.
    const verified = this.judge(lp, resumed ? resumedEvidence(offer, hs.evidence) : hs.evidence, resumed);
    this.report(verified);
    await this.tack(verified);
    if (cfg.tofu !== 'off') await this.tofu(verified, cfg.tofu);
    this.verified = verified;
    if (this.io.afterVerdict) {
      this.io.afterVerdict(verified);
      return this.end(new TlsifyError('ok', 'verified; not relaying (pin --connect)'));
    }
    if (cfg.holdMs !== undefined && !(await this.hold(cfg.holdMs))) return;
    // Tickets leave only now: after tlsify's verdict, TOFU and the parent's (facts §5.6 (d)).
    this.resumption?.gate.accept(verified, { ocspStaple: resumed ? offer.ocspStaple : hs.evidence.ocspStaple, clientId });
    this.flow(verified, hs);
  }

  /** The verdict; a stored-pin failure under --tofu is also reported as a tofu decision. */
  private judge(lp: LoadedPolicy, evidence: PeerEvidence, resumed: boolean): Verified {
    try {
      return verifyPeer(lp, evidence, new Date(), (event, fields) => this.emit(event, fields));
    } catch (err) {
      this.resumption?.gate.reject();
      // The stored path no longer passes: drop it, so that the next run does a full handshake.
      if (resumed) this.resumption?.store?.forget(this.resumption.binding);
      if (this.cfg.tofu !== 'off' && err instanceof TlsifyError && err.code === 'pin-mismatch') {
        this.emit('tofu', { decision: 'rejected', host: this.scope.host, reason: 'active-pin-mismatch', message: err.message });
      }
      throw err;
    }
  }

  /**
   * TACK pins (draft-perrin-tls-tack-00 §5): with --tack, check the TACKs and break signatures
   * against the validated leaf and update the pins; without, an active TACK pin for this host
   * still rejects the peer.
   */
  private async tack(v: Verified): Promise<void> {
    const now = new Date();
    if (!this.tackInput) {
      const r = enforceTackPins(this.storedEntries, this.scope, now);
      if (!r) return;
      this.emit('tack-pin', tackPinFields(r, this.scope));
      if (r.decision.kind === 'rejected') throw new TlsifyError('pin-mismatch', r.decision.message);
      return;
    }
    const { processTacks } = await import('../tack/client.ts');
    const d = await processTacks(this.store!, { ...this.tackInput, leafSpki: v.path[0]!.spki, scope: this.scope, activate: this.cfg.tackActivate, now });
    for (const [name, fields] of d.events) this.emit(name, fields);
    if (d.failure) throw new TlsifyError(d.failure.code, d.failure.message);
  }

  /** Trust on first use (protocol/pin-store.md §6): learn, activate, extend, replace or reject. */
  private async tofu(v: Verified, mode: 'learn' | 'strict'): Promise<void> {
    const decision = await this.store!.recordTofu(this.scope, v.path.map((c) => c.pin), mode, new Date());
    this.emit('tofu', tofuFields(decision, this.scope));
    if (decision.kind === 'rejected') throw new TlsifyError('pin-mismatch', decision.message);
  }

  /** The parent passes on a Public-Key-Pins(-Report-Only) header it received (RFC 7469 §2.5). */
  private async hpkp(header: string, reportOnly: boolean): Promise<void> {
    const v = this.verified;
    if (!v || !this.hs || !this.pump) return this.reply('not-ready', 'hpkp applies to a verified connection: send it after ready');
    try {
      const outcome = await this.store!.noteHpkp({
        host: this.scope.host,
        port: this.scope.port,
        header,
        validated: v.path,
        served: this.hs.evidence.chain,
        clean: true,
        now: new Date(),
        reportOnly,
        maxAgeCap: this.cfg.hpkpMaxAge,
      });
      this.emit('hpkp-result', hpkpFields(outcome));
      if (outcome.kind === 'evaluated' && outcome.report) this.emit('pin-report', reportFields(outcome.report));
    } catch (err) {
      this.reply('store-error', err instanceof Error ? err.message : String(err));
    }
  }

  private reservedFds(): Map<number, string> {
    const reserved = new Map<number, string>();
    if (this.cfg.controlFd !== undefined) reserved.set(this.cfg.controlFd, 'the control channel');
    if (this.cfg.netFd !== undefined) reserved.set(this.cfg.netFd, 'the network socket (--net-fd)');
    return reserved;
  }

  /** --keylog FILE; or SSLKEYLOGFILE, with a warning no --log-level can silence. */
  private startKeylog(): void {
    const target = keylogTarget(this.cfg.keylog, userEnv);
    if (!target) return;
    if (target.warning) {
      try {
        fs.writeSync(2, `tlsify: warning: ${target.warning}\n`);
      } catch {
        // stderr is closed: the control event still says it
      }
      this.emit('warning', { code: target.source === 'SSLKEYLOGFILE' ? 'keylog-env' : 'keylog-env-ignored', message: target.warning });
    }
    this.keylog = openKeylog(target, (err) => this.emit('warning', { code: 'keylog', message: err.message }));
    this.emit('keylog', { path: target.path, source: target.source });
  }

  /** --resume caller|file:PATH: pick the blob to offer (or say why none), and the gate for new tickets. */
  private startResumption(ids: readonly ClientIdentity[]): Resumption | undefined {
    const { cfg } = this;
    const ram = this.io.sessionCache;
    // The daemon's --resume ram: its RAM cache, reported as mode=ram (protocol/daemon.md §5).
    const mode = ram ? ({ kind: 'ram' } as const) : cfg.resume;
    if (mode.kind === 'off') return undefined;
    this.emit('warning', { code: 'resumption-linkable', message: PRIVACY_WARNING });
    const binding = bindingFor(cfg, ids);
    const store = ram ?? (mode.kind === 'file' ? FileSessionStore.open(mode.path) : undefined);
    let candidate: SessionBlob | undefined = store?.lookup(binding);
    let reported = false;
    if (cfg.resumeFrom !== undefined) {
      const text = readSecret(cfg.resumeFrom, '--resume-from', userEnv, { openFds: cfg.openFds, reservedFds: this.reservedFds() }).toString('latin1');
      try {
        candidate = decodeBlob(text);
      } catch (err) {
        if (!(err instanceof SessionBlobError)) throw err;
        this.emit('resume', { mode: mode.kind, result: 'skipped', reason: err.reason, message: err.message });
        reported = true;
      }
    }
    let offer: SessionBlob | undefined;
    if (candidate) {
      const check = checkBlob(candidate, binding, new Date());
      if (check.ok) offer = candidate;
      this.emit('resume', check.ok ? { mode: mode.kind, result: 'offered', age: check.ageSeconds } : { mode: mode.kind, result: 'skipped', reason: check.reason, differs: check.reason === 'binding' ? check.differs.join(',') : undefined, message: check.message });
    } else if (!reported) {
      this.emit('resume', { mode: mode.kind, result: 'none' });
    }
    const sink = (blob: SessionBlob): void => {
      if (store) store.put(blob, new Date());
      this.emit('session', store ? { stored: store.path } : { blob: encodeBlob(blob) });
    };
    const gate = new TicketGate(binding, sink, (err) => this.emit('warning', { code: 'session', message: asTlsifyError(err).message }));
    return { binding, offer, store, gate };
  }

  /** --hold: the parent has the last word (its own pin database, say) before any plaintext. */
  private hold(ms: number): Promise<boolean> {
    this.emit('hold', { timeout: ms / 1000 });
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.end(new TlsifyError('rejected', `no accept or reject from the parent within ${ms / 1000} s (--hold)`));
        resolve(false);
      }, ms);
      this.verdict = (accepted, reason) => {
        clearTimeout(timer);
        this.verdict = undefined;
        if (!accepted) this.end(new TlsifyError('rejected', `the parent rejected the peer${reason ? `: ${reason}` : ''}`));
        else this.emit('ok', { command: 'accept' });
        resolve(accepted && !this.ended);
      };
    });
  }

  /** Every event goes to the control channel, and to the log at info level (without the DER). */
  private emit(name: string, fields: Fields = {}): void {
    if (this.endSent) return; // the end line is the last line, whatever still happens
    if (name === 'end') this.endSent = true;
    this.control.send(name, fields);
    // No DER, and never a session blob: it holds the session's secret (tls/session-blob.ts).
    this.log.info({ event: name, ...fields, der: undefined, blob: undefined }, name);
  }

  private dial(): Promise<Transport> {
    const { cfg } = this;
    return dial(cfg.host, cfg.port!, cfg.connectTimeoutMs, {
      resolved: (addresses) => !this.ended && this.emit('resolved', { host: cfg.host, addresses: addresses.join(',') }),
    });
  }

  private report(v: Verified): void {
    for (const [name, fields] of verdictEvents(v, this.cfg.policy)) this.emit(name, fields);
  }

  private flow(v: Verified, hs: Handshake): void {
    this.emit('ready');
    this.pump = startPump(v, hs, this.io.plaintext(), this.cfg.closeOnEof, {
      closeSent: (reason) => this.emit('close-sent', { reason }),
      done: (end) => this.end(new TlsifyError(end.code, end.message)),
    });
  }

  command(line: Line): void {
    if (this.ended) return; // nothing follows the end line (protocol/control.md §3)
    const takes = commandFields[line.name];
    if (takes === undefined) {
      return this.reply('unknown-command', `expected one of ${Object.keys(commandFields).join(', ')}, got '${line.name}'`);
    }
    const extra = [...line.fields.keys()].find((key) => !takes.includes(key));
    if (extra !== undefined) {
      return this.reply('unknown-field', `${line.name} takes ${takes.length ? takes.join(', ') : 'no fields'}, got '${extra}'`);
    }
    switch (line.name) {
      case 'close':
        if (!this.pump) return this.abort('the close command, which came before the verdict');
        this.emit('ok', { command: 'close' });
        return this.pump.close();
      case 'accept':
      case 'reject':
        if (!this.verdict) return this.reply('not-holding', `${line.name} answers a hold event; no verdict is pending`);
        return this.verdict(line.name === 'accept', line.fields.get('reason'));
      case 'abort':
        return this.abort('the abort command');
      case 'hpkp':
      case 'hpkp-report-only': {
        const header = line.fields.get('header');
        if (header === undefined) return this.reply('bad-line', `${line.name}: expected header=VALUE, the Public-Key-Pins header value`);
        void this.hpkp(header, line.name === 'hpkp-report-only');
        return;
      }
    }
  }

  private reply(code: ReplyCode, message: string): void {
    this.emit('error', { code, message });
  }

  abort(why: string): void {
    const message = `stopped by ${why}`;
    if (this.pump) this.pump.abort(message);
    else this.end(new TlsifyError('aborted', message));
  }

  private end(err: TlsifyError): void {
    this.verdict = undefined;
    if (this.ended) return;
    this.ended = true;
    this.resumption?.gate.reject(); // before the verdict: nothing was released; after it: no more
    this.keylog?.close();
    const code: Code = err.code;
    if (code !== 'ok') {
      const fields = { code, exit: exitStatus(code), stack: code === 'internal' ? err.stack : undefined };
      this.log.error(fields, err.message);
    }
    this.hs?.socket.destroy();
    this.hs?.relay.destroy();
    this.transport?.socket.destroy();
    this.emit('end', { code, exit: exitStatus(code), message: err.message });
    void this.control.flush(2000).then(() => this.settle(exitStatus(code)));
  }
}

