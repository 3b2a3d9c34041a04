/**
 * File reads with a ceiling: preflight and mmio read files they did not write (a copied /sys, a vmware.log), and
 * a file may be huge or endless (/dev/zero). Reading one whole would take the machine's memory with it.
 */
import { closeSync, constants, fstatSync, openSync, readSync } from "fs";

/** The file holds more than the caller's ceiling; nothing past it was read. */
export class FileTooLargeError extends Error {
  constructor(public readonly maxBytes: number) {
    super(`larger than ${maxBytes} bytes`);
    this.name = "FileTooLargeError";
  }
}

/** The path is a device, pipe or socket where only a regular file makes sense. */
export class NotRegularFileError extends Error {
  constructor() {
    super("not a regular file (a device, pipe or socket)");
    this.name = "NotRegularFileError";
  }
}

export interface ReadBoundedOptions {
  /**
   * Refuse anything but a regular file, before reading a byte. The open is non-blocking then, so that a named pipe
   * without a writer cannot hang it. Off, a pipe is read like a file (`--vmware-log /dev/stdin`), up to the ceiling.
   */
  readonly regularOnly?: boolean;
  /** Called with each chunk read; returning true ends the read there. */
  readonly onChunk?: (chunk: Buffer) => boolean;
  /** With `onChunk`: end the read at the ceiling instead of throwing {@link FileTooLargeError}. */
  readonly stopAtLimit?: boolean;
}

const CHUNK_BYTES = 64 * 1024;

/**
 * The file's first bytes, at most `maxBytes`. @throws FileTooLargeError past the ceiling (unless `stopAtLimit`),
 * NotRegularFileError (with `regularOnly`), or the system's error (ENOENT, EACCES, EISDIR).
 */
export function readBounded(path: string, maxBytes: number, opts: ReadBoundedOptions = {}): Buffer {
  const fd = openSync(path, opts.regularOnly ? constants.O_RDONLY | constants.O_NONBLOCK : constants.O_RDONLY);
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw Object.assign(new Error(`EISDIR: illegal operation on a directory`), { code: "EISDIR" });
    if (opts.regularOnly && !stat.isFile()) throw new NotRegularFileError();
    const buffer = Buffer.alloc(Math.min(maxBytes + 1, CHUNK_BYTES));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const chunk = Buffer.from(buffer.subarray(0, n));
      chunks.push(chunk);
      total += n;
      if (opts.onChunk?.(chunk)) break;
      if (total > maxBytes) {
        if (opts.stopAtLimit) break;
        throw new FileTooLargeError(maxBytes);
      }
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}
