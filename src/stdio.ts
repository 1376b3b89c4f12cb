// stdio.ts: plaintext streams on fds 0 and 1 of whatever kind the parent gave: pipe, socket
// (even one socket as both 0 and 1), regular file, terminal or /dev/null. Asynchronous for
// pipes and sockets, so a parent that stops reading stops us reading the peer, no more.
import fs from 'node:fs';
import { socketOnFd } from './net/fd-socket.ts';
import tty from 'node:tty';
import { Writable, type Readable } from 'node:stream';

/** Large reads keep the per-chunk cost down on bulk uploads. */
const CHUNK = 256 * 1024;

export function plaintextIn(fd = 0): Readable {
  const stat = fs.fstatSync(fd);
  if (stat.isSocket() || stat.isFIFO()) {
    return socketOnFd(fd, { readable: true, writable: false }, `fd ${fd} (plaintext in)`, 'local-io');
  }
  if (tty.isatty(fd)) return new tty.ReadStream(fd);
  return fs.createReadStream('', { fd, autoClose: false, highWaterMark: CHUNK });
}

export function plaintextOut(fd = 1): Writable {
  const stat = fs.fstatSync(fd);
  if (stat.isSocket() || stat.isFIFO()) {
    return socketOnFd(fd, { readable: false, writable: true }, `fd ${fd} (plaintext out)`, 'local-io');
  }
  if (tty.isatty(fd)) return new tty.WriteStream(fd);
  // Other character devices (/dev/null above all) take writes at once: write them directly
  // instead of a thread-pool round trip per chunk.
  if (stat.isCharacterDevice()) return syncWriter(fd);
  return fs.createWriteStream('', { fd, autoClose: false, highWaterMark: CHUNK });
}

function syncWriter(fd: number): Writable {
  return new Writable({
    highWaterMark: CHUNK,
    write(chunk: Buffer, _enc, done) {
      try {
        for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off);
        done();
      } catch (err) {
        done(err as Error);
      }
    },
  });
}
