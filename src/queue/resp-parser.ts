/**
 * RESP2, the Redis protocol: commands encoded as arrays of bulk strings,
 * replies parsed from a growing buffer (simple strings, errors, integers,
 * bulk strings as UTF-8, arrays; nil as null; an error reply as an Error
 * value, for the caller to throw or keep).
 */

/** A command argument. */
export type Arg = string | number | Buffer;
/** A parsed reply. */
export type Reply = string | number | null | Error | Reply[];

/** RESP2 reply parser over a growing buffer. */
export class Parser {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
  }

  /** The next complete reply, or undefined when more bytes are needed. */
  next(): { reply: Reply } | undefined {
    const r = this.#parse(0);
    if (r === undefined) return undefined;
    this.#buf = this.#buf.subarray(r.end);
    return { reply: r.reply };
  }

  #parse(at: number): { reply: Reply; end: number } | undefined {
    const eol = this.#buf.indexOf('\r\n', at);
    if (eol === -1) return undefined;
    const type = String.fromCharCode(this.#buf[at] ?? 0);
    const line = this.#buf.toString('utf8', at + 1, eol);
    const after = eol + 2;
    switch (type) {
      case '+':
        return { reply: line, end: after };
      case '-':
        return { reply: new Error(line), end: after };
      case ':':
        return { reply: Number(line), end: after };
      case '$': {
        const n = Number(line);
        if (n < 0) return { reply: null, end: after };
        if (this.#buf.length < after + n + 2) return undefined;
        return { reply: this.#buf.toString('utf8', after, after + n), end: after + n + 2 };
      }
      case '*': {
        const n = Number(line);
        if (n < 0) return { reply: null, end: after };
        const items: Reply[] = [];
        let end = after;
        for (let i = 0; i < n; i++) {
          const item = this.#parse(end);
          if (item === undefined) return undefined;
          items.push(item.reply);
          end = item.end;
        }
        return { reply: items, end };
      }
      default:
        throw new Error(`Redis protocol error: unexpected reply type ${JSON.stringify(type)}`);
    }
  }
}

/**
 * Encodes a command.
 * @param args - the command and its arguments.
 * @returns the bytes to send.
 */
export function encode(args: readonly Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a), 'utf8');
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}
