// commands/connect.ts: `tlsify connect`: transport, handshake, verdict, then plaintext.
// Every step is told on the control channel (protocol/control.md §4); the end has one reason.
import { TlsifyError, asTlsifyError, exitStatus, type Code } from '../codes.ts';
import type { ConnectConfig } from '../config.ts';
import { noControl, openControl, type ControlChannel } from '../control/channel.ts';
import type { Fields, Line } from '../control/frame.ts';
import type { Log } from '../log.ts';
import { adopt, dial, type Transport } from '../net/dial.ts';
import { plaintextIn, plaintextOut } from '../stdio.ts';
import { handshake, type Handshake } from '../tls/client.ts';
import { startPump, type Pump } from '../tls/pump.ts';
import { loadAnchors } from '../trust/store.ts';
import { describeReference } from '../trust/names.ts';
import { verifyPeer, type Verified } from '../trust/verify.ts';
import { PROTOCOL_VERSION, VERSION } from '../version.ts';

export async function runConnect(cfg: ConnectConfig, log: Log): Promise<number> {
  const control = cfg.controlFd === undefined ? noControl : openControl(cfg.controlFd, (err) =>
    log.warn({ err: err.message, fd: cfg.controlFd }, 'control channel lost; the data keeps flowing'),
  );
  control.send('hello', { proto: PROTOCOL_VERSION, tlsify: VERSION, pid: process.pid });

  const session = new Session(cfg, log, control);
  process.once('SIGINT', () => session.abort('SIGINT'));
  process.once('SIGTERM', () => session.abort('SIGTERM'));
  process.once('SIGHUP', () => session.abort('SIGHUP'));
  control.onCommand((line) => session.command(line));
  return session.run();
}

class Session {
  private pump: Pump | undefined;
  private transport: Transport | undefined;
  private hs: Handshake | undefined;
  private settle!: (status: number) => void;
  private readonly result = new Promise<number>((resolve) => (this.settle = resolve));
  private ended = false;

  constructor(
    private readonly cfg: ConnectConfig,
    private readonly log: Log,
    private readonly control: ControlChannel,
  ) {}

  async run(): Promise<number> {
    this.establish().catch((err) => this.end(asTlsifyError(err)));
    return this.result;
  }

  private async establish(): Promise<void> {
    const { cfg } = this;
    const anchors = loadAnchors(cfg.trust, (where, why) => this.log.warn({ where, why }, 'skipping an unusable system anchor'));
    this.emit('trust', { set: anchors.name, anchors: anchors.size });

    this.transport = cfg.netFd !== undefined ? adopt(cfg.netFd) : await this.dial();
    const t = this.transport;
    this.emit('connected', { address: t.remoteAddress, port: t.remotePort, 'local-address': t.localAddress, 'local-port': t.localPort, fd: cfg.netFd });
    if (this.ended) return;

    const hs = await handshake(t, anchors, { sni: cfg.sni, alpn: cfg.alpn, minTls: cfg.minTls, timeoutMs: cfg.handshakeTimeoutMs });
    this.hs = hs;
    if (this.ended) return void hs.socket.destroy();
    this.emit('handshake', { version: hs.version, cipher: hs.cipher, alpn: hs.alpn ?? '', sni: cfg.sni ?? '', resumed: hs.resumed });

    const verified = verifyPeer({ anchors, references: [cfg.reference] }, hs.evidence, new Date());
    this.report(verified);
    this.flow(verified, hs);
  }

  /** Every event goes to the control channel, and to the log at info level (without the DER). */
  private emit(name: string, fields: Fields = {}): void {
    this.control.send(name, fields);
    this.log.info({ event: name, ...fields, der: undefined }, name);
  }

  private dial(): Promise<Transport> {
    const { cfg } = this;
    return dial(cfg.host, cfg.port!, cfg.connectTimeoutMs, {
      resolved: (addresses) => this.emit('resolved', { host: cfg.host, addresses: addresses.join(',') }),
    });
  }

  private report(v: Verified): void {
    const last = v.path.length - 1;
    v.path.forEach((cert, depth) => {
      this.emit('cert', {
        depth,
        role: depth === 0 ? 'leaf' : depth === last ? 'anchor' : 'intermediate',
        subject: cert.subject,
        issuer: cert.issuer,
        'not-before': cert.notBefore.toISOString(),
        'not-after': cert.notAfter.toISOString(),
        pin: cert.pin,
        der: cert.der.toString('base64'),
      });
    });
    const presented = v.identity.presented;
    this.emit('verified', {
      identity: describeReference(v.identity.reference),
      matched: presented.type === 'other' ? presented.oid : `${presented.type}:${presented.value}`,
      how: v.identity.how,
      'ca-set': v.anchorSet,
      anchor: v.anchor.cert.subject,
      'anchor-source': v.anchor.source,
    });
  }

  private flow(v: Verified, hs: Handshake): void {
    this.emit('ready');
    this.pump = startPump(v, hs, { input: plaintextIn(0), output: plaintextOut(1) }, this.cfg.closeOnEof, {
      closeSent: (reason) => this.emit('close-sent', { reason }),
      done: (end) => this.end(new TlsifyError(end.code, end.message)),
    });
  }

  command(line: Line): void {
    switch (line.name) {
      case 'close':
        if (this.pump) {
          this.emit('ok', { command: 'close' });
          this.pump.close();
        } else {
          this.abort('the close command came before the verdict');
        }
        return;
      case 'abort':
        this.abort('the abort command');
        return;
      default:
        this.emit('error', { code: 'unknown-command', message: `expected close or abort, got '${line.name}'` });
    }
  }

  abort(why: string): void {
    const message = `stopped by ${why}`;
    if (this.pump) this.pump.abort(message);
    else this.end(new TlsifyError('aborted', message));
  }

  private end(err: TlsifyError): void {
    if (this.ended) return;
    this.ended = true;
    const code: Code = err.code;
    if (code !== 'ok') {
      const fields = { code, exit: exitStatus(code), stack: code === 'internal' ? err.stack : undefined };
      this.log.error(fields, err.message);
    }
    this.hs?.socket.destroy();
    this.transport?.socket.destroy();
    this.emit('end', { code, exit: exitStatus(code), message: err.message });
    void this.control.flush(2000).then(() => this.settle(exitStatus(code)));
  }
}
