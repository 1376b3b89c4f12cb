// test/e2e/transcripts.test.ts: replays protocol/transcripts/*.txt against the real bin/tlsify and a
// real peer (protocol/control.md, Appendix A), and checks the code table of control.md §7 against src/codes.ts.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { codes } from '../../src/codes.ts';
import { fixturePki, serverOptions, type FixturePki } from '../helpers/pki.ts';

const ROOT = path.resolve(__dirname, '../..');
const TLSIFY = path.join(ROOT, 'bin/tlsify');
const SPEC = path.join(ROOT, 'protocol/control.md');
const TRANSCRIPTS = path.join(ROOT, 'protocol/transcripts');
const files = readdirSync(TRANSCRIPTS).filter((f) => f.endsWith('.txt')).sort();

/** Long enough for a handshake on a loaded machine, well under tlsify's 10 s handshake timeout. */
const STEP_MS = 8000;
const GREETING = 'hello from the peer\n';
const STDIN = 'ping\n';

let pki: FixturePki;
before(async () => {
  pki = await fixturePki();
});
after(() => pki.cleanup());

// ---- transcripts: the file format --------------------------------------------------------------

interface Step {
  readonly kind: 'S' | 'C';
  readonly text: string;
  readonly where: string;
}

interface Transcript {
  readonly scenario: string;
  readonly steps: readonly Step[];
}

function parseTranscript(file: string): Transcript {
  let scenario: string | undefined;
  const steps: Step[] = [];
  readFileSync(path.join(TRANSCRIPTS, file), 'utf8').split('\n').forEach((raw, i) => {
    const where = `protocol/transcripts/${file}:${i + 1}`;
    const header = /^# scenario: (.*)$/.exec(raw);
    if (header) {
      if (scenario !== undefined) throw new Error(`${where}: expected one '# scenario:' header, got a second`);
      scenario = header[1]!;
    } else if (raw !== '' && !raw.startsWith('#')) {
      const m = /^([SC]): (.+)$/.exec(raw);
      if (!m) throw new Error(`${where}: expected 'S: LINE', 'C: LINE', '# comment' or a blank line, got '${raw}'`);
      steps.push({ kind: m[1] as 'S' | 'C', text: m[2]!, where });
    }
  });
  if (scenario === undefined) throw new Error(`protocol/transcripts/${file}: expected a '# scenario: NAME' header, got none`);
  return { scenario, steps };
}

/** `{repeat N TEXT}` in a C: line stands for TEXT written N times. */
function expand(command: string): string {
  return command.replace(/\{repeat (\d+) ([^}]*)\}/g, (_, n: string, text: string) => text.repeat(Number(n)));
}

// ---- lines on the wire ---------------------------------------------------------------------------

interface Wire {
  readonly name: string;
  readonly fields: ReadonlyMap<string, string>;
}

/** Split at SP and each field at its first '=' (§2.2); values stay escaped, as on the wire. */
function split(line: string): Wire {
  const [name, ...tokens] = line.split(' ');
  const fields = new Map<string, string>();
  for (const token of tokens) {
    const eq = token.indexOf('=');
    fields.set(eq < 0 ? token : token.slice(0, eq), eq < 0 ? '' : token.slice(eq + 1));
  }
  return { name: name!, fields };
}

// §2.1 `event-line` without its LF: names, single SPs, values with no raw %, SP, controls or DEL.
const EVENT_LINE = /^[a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*=(?:[^%\x00-\x20\x7f]|%[0-9A-F]{2})*)*$/;

function grammarError(line: string): string | undefined {
  if (!EVENT_LINE.test(line)) return 'does not match event-line (§2.1)';
  if (Buffer.byteLength(line) + 1 > 65536) return `is ${Buffer.byteLength(line) + 1} bytes, over 65536 (§2.3)`;
  const keys = line.split(' ').slice(1).map((t) => t.slice(0, t.indexOf('=')));
  if (new Set(keys).size !== keys.length) return 'repeats a key (§2.1)';
  return undefined;
}

/** Why `actual` does not match the S: line `expected`, or undefined when it does. */
function mismatch(expected: string, actual: string): string | undefined {
  const open = expected.endsWith(' ...');
  const want = split(open ? expected.slice(0, -' ...'.length) : expected);
  const got = split(actual);
  if (want.name !== got.name) return `expected a '${want.name}' line, got '${got.name}'`;
  for (const [key, value] of want.fields) {
    const g = got.fields.get(key);
    if (g === undefined) return `field ${key}: expected '${value}', got no such field`;
    if (value !== '*' && value !== g) return `field ${key}: expected '${value}', got '${g}'`;
  }
  const extra = [...got.fields.keys()].filter((k) => !want.fields.has(k));
  if (!open && extra.length > 0) return `unexpected field ${extra.join(', ')} (end the S: line with ' ...' to allow more)`;
  return undefined;
}

/** The lines tlsify writes on fd 3, one at a time. */
class LineReader {
  private partial = '';
  private readonly queue: string[] = [];
  private eof = false;
  private wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      const parts = (this.partial + text).split('\n');
      this.partial = parts.pop()!;
      this.queue.push(...parts);
      this.wake?.();
    });
    const end = (): void => {
      if (this.partial !== '') this.queue.push(this.partial + ' <- no LF before EOF');
      this.partial = '';
      this.eof = true;
      this.wake?.();
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', () => {}); // EOF or a reset both end the transcript; the exit status tells the rest
  }

  /** The next line, or undefined at EOF; rejects after `ms` without either. */
  async next(ms: number): Promise<string | undefined> {
    const deadline = Date.now() + ms;
    while (this.queue.length === 0 && !this.eof) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
    return this.queue.shift();
  }
}

// ---- scenarios: the peers a transcript can name ------------------------------------------------

interface Peer {
  readonly port: number;
  /** Plaintext bytes the peer application received. */
  received(): number;
  close(): Promise<void>;
}

async function listen(server: net.Server, received: () => number): Promise<Peer> {
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const close = (): Promise<void> =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return { port, received, close };
}

/** A TLS peer that greets once the handshake is done, counts what it receives, and closes when tlsify does. */
function greeter(options: tls.TlsOptions): Promise<Peer> {
  let received = 0;
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.write(GREETING);
  });
  server.on('tlsClientError', () => {});
  return listen(server, () => received);
}

const scenarios: Record<string, () => Promise<Peer>> = {
  'good-cert': () => greeter(serverOptions(pki.good)),
  'wrong-name': () => greeter(serverOptions(pki.wrongName)),
  // Accepts TCP and never answers, so the handshake stays pending.
  'silent-peer': () => listen(net.createServer(), () => 0),
};

// ---- the replay ------------------------------------------------------------------------------------

async function replay(t: TestContext, transcript: Transcript): Promise<void> {
  const peer = await scenarios[transcript.scenario]!();
  t.after(() => peer.close());
  const child = spawn(TLSIFY, ['connect', `127.0.0.1:${peer.port}`, '--ca', pki.caFile, '--servername', 'localhost'], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  const closed = new Promise<number | null>((resolve) => child.once('close', (status) => resolve(status)));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdin!.on('error', () => {}); // EPIPE once tlsify is gone
  child.stdin!.write(STDIN); // kept open: an EOF would add close-sent reason=stdin-eof
  const control = child.stdio[3] as net.Socket;
  const lines = new LineReader(control);

  const seen: string[] = [];
  const fail = (where: string, why: string): never =>
    assert.fail(`${where}: ${why}\n--- fd 3 so far:\n${seen.join('\n')}\n--- stderr:\n${stderr}`);
  const read = async (where: string): Promise<string | undefined> => {
    const line = await lines.next(STEP_MS).catch((err: Error) => fail(where, err.message));
    if (line !== undefined) {
      seen.push(line);
      const bad = grammarError(line);
      if (bad) fail(where, `tlsify wrote '${line.slice(0, 200)}', which ${bad}`);
    }
    return line;
  };

  for (const step of transcript.steps) {
    if (step.kind === 'C') {
      control.write(expand(step.text) + '\n');
      continue;
    }
    const line = await read(step.where);
    if (line === undefined) fail(step.where, `expected '${step.text}', got EOF`);
    const why = mismatch(step.text, line!);
    if (why) fail(step.where, `${why}\n  expected: ${step.text}\n  got:      ${line!.slice(0, 300)}`);
  }
  const last = await read('after the last line');
  if (last !== undefined) fail('after the last line', `expected EOF after 'end', got '${last.slice(0, 300)}'`);

  const status = await closed;
  const end = split(seen.at(-1)!);
  assert.equal(status, Number(end.fields.get('exit')), `exit status vs the end line's exit=\n${stderr}`);
  assert.equal(split(seen[0]!).fields.get('pid'), String(child.pid), 'hello pid= is the process the parent spawned');

  // §3: before ready nothing moves; after a clean end everything the peer sent has arrived.
  const ready = seen.some((l) => split(l).name === 'ready');
  if (!ready) {
    assert.equal(stdout, '', 'no ready, yet the peer data reached stdout');
    assert.equal(peer.received(), 0, 'no ready, yet stdin reached the peer');
  } else if (end.fields.get('code') === 'ok') {
    assert.equal(stdout, GREETING, "a clean end, yet stdout is not the peer's greeting");
  }
}

describe('protocol/transcripts', () => {
  test('there are transcripts, each with a known scenario, ending with one end line', () => {
    assert.ok(files.length >= 3, `expected at least 3 transcripts, got ${files.length}`);
    for (const file of files) {
      const { scenario, steps } = parseTranscript(file);
      assert.ok(scenario in scenarios, `${file}: expected a scenario of ${Object.keys(scenarios).join(', ')}, got '${scenario}'`);
      const events = steps.filter((s) => s.kind === 'S').map((s) => split(s.text).name);
      assert.equal(events.at(-1), 'end', `${file}: expected the last S: line to be end`);
      assert.equal(events.filter((e) => e === 'end').length, 1, `${file}: expected one end line`);
    }
  });

  test('every line name in the transcripts is documented in control.md', () => {
    const spec = readFileSync(SPEC, 'utf8');
    const headings = new Set([...spec.matchAll(/^### [45]\.\d+ (\S+)$/gm)].map((m) => m[1]!));
    for (const reply of ['ok', 'error']) assert.match(spec, new RegExp(`\`${reply} `), `the ${reply} reply`);
    headings.add('ok').add('error');
    for (const file of files) {
      for (const step of parseTranscript(file).steps) {
        const { name } = split(expand(step.text));
        if (step.kind === 'S' || ['close', 'abort'].includes(name)) {
          assert.ok(headings.has(name), `${step.where}: '${name}' has no section in control.md §4/§5`);
        }
      }
    }
  });

  for (const file of files) {
    test(`replays ${file}`, { timeout: 60_000 }, (t) => replay(t, parseTranscript(file)));
  }
});

// ---- the code table ------------------------------------------------------------------------------

/** The rows of the Markdown table in control.md §7: code, exit status, meaning. */
function specCodeTable(markdown: string): [string, number, string][] {
  const section = /^## 7\. .*\n([\s\S]*?)(?=^## )/m.exec(markdown);
  assert.ok(section, 'control.md: expected a section "## 7. ..."');
  const rows = section[1]!.split('\n').filter((l) => l.startsWith('|'));
  assert.ok(rows.length > 2, 'control.md §7: expected a table');
  return rows.slice(2).map((row) => {
    const cells = row.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim().replace(/\\\|/g, '|'));
    assert.equal(cells.length, 3, `control.md §7: expected | code | exit | meaning |, got '${row}'`);
    return [cells[0]!.replace(/^`(.*)`$/, '$1'), Number(cells[1]), cells[2]!];
  });
}

test('the code table in protocol/control.md §7 is src/codes.ts', () => {
  const spec = specCodeTable(readFileSync(SPEC, 'utf8'));
  const source = Object.entries(codes).map(([name, c]): [string, number, string] => [name, c.exit, c.summary]);
  assert.deepEqual(spec, source);
});
