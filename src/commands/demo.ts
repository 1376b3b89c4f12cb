// commands/demo.ts: `tlsify demo`, a newcomer's first run with no network: a throw-away CA and
// TLS echo server on 127.0.0.1, a real `tlsify connect` child with fd 3, the transcript shown.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { userEnv } from '../env.ts';
import type { Log } from '../log.ts';
import { issue } from '../pki/generate.ts';

const MESSAGE = 'hello through tlsify\n';

export async function runDemo(log: Log): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tlsify-demo-'));
  const sockets = new Set<net.Socket>();
  let server: tls.Server | undefined;
  try {
    say('1. Making a throw-away CA and a certificate for localhost ...');
    const ca = await issue({ subject: 'CN=tlsify demo CA', ca: true });
    const leaf = await issue({ subject: 'CN=localhost', issuer: ca, dns: ['localhost'], ip: ['127.0.0.1'] });
    const caFile = path.join(dir, 'ca.pem');
    fs.writeFileSync(caFile, ca.certPem, { mode: 0o600 });

    server = tls.createServer({ key: leaf.keyPem, cert: leaf.certPem, allowHalfOpen: true }, (s) => {
      sockets.add(s);
      s.on('error', (err) => log.debug({ err: err.message }, 'demo server socket error'));
      s.on('data', (c: Buffer) => s.write(`echo: ${c}`));
      s.on('end', () => s.end());
    });
    const port = await listen(server);
    say(`2. A TLS echo server listens on 127.0.0.1:${port}.`);

    const bin = path.resolve(__dirname, '..', 'bin', 'tlsify');
    const args = ['connect', `127.0.0.1:${port}`, '--ca', caFile, '--servername', 'localhost'];
    say(`3. Running: printf '${MESSAGE.trim()}\\n' | tlsify ${args.join(' ').replace(caFile, 'ca.pem')} 3>&1\n`);
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'inherit', 'pipe'], env: userEnv });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => {
      output += c;
      for (const line of c.toString().split(/(?<=\n)/)) say(`   stdout> ${line.replace(/\n$/, '')}`);
    });
    lines(child.stdio[3] as net.Socket, (line) => say(`   fd 3>   ${shortenDer(line)}`));
    child.stdin!.end(MESSAGE);
    const status = await new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 70)));

    const ok = status === 0 && output === `echo: ${MESSAGE}`;
    say(`\n4. tlsify exited with status ${status}; the echo ${ok ? 'came back intact' : 'did NOT come back as sent'}.`);
    say('   Try a certificate for another name: the same command then exits 9 with nothing on stdout.');
    say("   Next: 'tlsify connect --help', and protocol/control.md for the fd 3 lines.");
    return ok ? 0 : status || 70;
  } finally {
    for (const s of sockets) s.destroy();
    server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function say(text: string): void {
  process.stdout.write(text + '\n');
}

function listen(server: tls.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

function lines(stream: net.Socket, onLine: (line: string) => void): void {
  let partial = '';
  stream.on('data', (c: Buffer) => {
    partial += c;
    const parts = partial.split('\n');
    partial = parts.pop()!;
    parts.forEach(onLine);
  });
}

/** The DER in `cert` lines is long; show its start and size so the transcript stays readable. */
function shortenDer(line: string): string {
  return line.replace(/ der=(\S{24})\S+/, (_m, head: string) => ` der=${head}... (${line.length} bytes in all)`);
}
