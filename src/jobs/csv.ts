/**
 * A streaming RFC 4180 CSV scanner over bytes. It works on bytes, not
 * characters, because every structural character (comma, double quote, CR,
 * LF) is ASCII and so can never be part of a multi-byte UTF-8 sequence;
 * fields are decoded as strict UTF-8 only when a record is complete, so one
 * record of invalid UTF-8 is reported on its own. A record ends at LF, CRLF
 * or a lone CR (old Mac files: without it such a file would be one record,
 * its header, and no rows); inside a quoted field each is data. Memory is bounded by
 * `maxRecordBytes`: the bytes of a larger record are dropped as they come
 * and the record is reported as too large.
 */

const kQuote = 0x22;
const kComma = 0x2c;
const kCr = 0x0d;
const kLf = 0x0a;

/** One CSV record as bytes, before decoding. */
export interface CsvRawRecord {
  /** 1-based line on which the record starts. */
  readonly line: number;
  /** 1-based line on which the record ends (a quoted field may span lines). */
  readonly endLine: number;
  /** Byte offset just past the record's line end. */
  readonly endOffset: number;
  /** The fields' bytes (empty when the record was too large). */
  readonly fields: readonly Uint8Array[];
  /** Why the record is malformed, if it is. */
  readonly error: { readonly code: 'MALFORMED_RECORD' | 'TOO_LARGE'; readonly reason: string } | null;
  /** True for an empty line (no bytes between line ends). */
  readonly blank: boolean;
}

// biome-ignore lint/suspicious/noConstEnum: file-local and compiled by tsc, not isolatedModules; inlined states keep the parser's inner loop free of property loads.
const enum State {
  FieldStart,
  Unquoted,
  Quoted,
  /** A double quote inside a quoted field: either an escaped quote or the closing one. */
  QuoteInQuoted,
}

/** A growable byte buffer for one field. */
class FieldBytes {
  #buf = new Uint8Array(256);
  #length = 0;

  get length(): number {
    return this.#length;
  }

  push(byte: number): void {
    if (this.#length === this.#buf.length) {
      const next = new Uint8Array(this.#buf.length * 2);
      next.set(this.#buf);
      this.#buf = next;
    }
    this.#buf[this.#length++] = byte;
  }

  pushRange(chunk: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    if (this.#length + n > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < this.#length + n) size *= 2;
      const next = new Uint8Array(size);
      next.set(this.#buf.subarray(0, this.#length));
      this.#buf = next;
    }
    this.#buf.set(chunk.subarray(start, end), this.#length);
    this.#length += n;
  }

  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#length);
    this.#length = 0;
    if (this.#buf.length > 1 << 16) this.#buf = new Uint8Array(256);
    return out;
  }

  clear(): void {
    this.#length = 0;
  }
}

/**
 * Scans CSV bytes pushed chunk by chunk into raw records.
 */
export class CsvScanner {
  readonly #maxRecordBytes: number;
  #state: State = State.FieldStart;
  readonly #field = new FieldBytes();
  #fields: Uint8Array[] = [];
  #recordBytes = 0;
  #tooLarge = false;
  #error: string | null = null;
  #quotedField = false;
  #line: number;
  #recordLine: number;
  #offset: number;
  /**
   * The last pushed byte was a CR outside quotes: the record ends there,
   * but whether at the CR or past an LF that follows is known only from
   * the next byte (the next chunk's first).
   */
  #crPending = false;
  /** The last byte pushed (a CRLF split across chunks counts as one line break). */
  #lastByte = -1;

  /**
   * @param options - `maxRecordBytes` caps one record; `line` and `offset`
   *   say where the first pushed byte sits in the file (for resuming).
   */
  constructor(options: { maxRecordBytes: number; line?: number; offset?: number }) {
    this.#maxRecordBytes = options.maxRecordBytes;
    this.#line = options.line ?? 1;
    this.#recordLine = this.#line;
    this.#offset = options.offset ?? 0;
  }

  /**
   * Scans one chunk.
   * @param chunk - the next bytes of the file.
   * @returns the records completed within it.
   */
  push(chunk: Uint8Array): CsvRawRecord[] {
    const out: CsvRawRecord[] = [];
    const base = this.#offset;
    const n = chunk.length;
    if (n === 0) return out;
    let i = 0;
    if (this.#crPending) {
      this.#crPending = false;
      if (chunk[0] === kLf) {
        out.push(this.#endRecord(base + 1));
        i = 1;
      } else out.push(this.#endRecord(base));
    }
    while (i < n) {
      const state = this.#state;
      if (state === State.FieldStart || state === State.Unquoted) {
        let j = i;
        while (j < n) {
          const c = chunk[j];
          if (c === kComma || c === kLf || c === kQuote || c === kCr) break;
          j++;
        }
        if (j > i) {
          this.#append(chunk, i, j);
          this.#state = State.Unquoted;
          i = j;
          continue;
        }
        const b = chunk[i++] as number;
        if (b === kComma) this.#endField();
        else if (b === kLf) out.push(this.#endRecord(base + i));
        else if (b === kCr) i = this.#crLineEnd(chunk, i, base, out);
        else if (state === State.FieldStart) {
          this.#state = State.Quoted;
          this.#quotedField = true;
        } else {
          this.#fail('a double quote inside an unquoted field');
          this.#append(chunk, i - 1, i);
        }
        continue;
      }
      if (state === State.Quoted) {
        let j = i;
        while (j < n && chunk[j] !== kQuote) {
          const c = chunk[j];
          // CR, LF and CRLF each count as one line break.
          if (c === kCr || (c === kLf && (j > 0 ? chunk[j - 1] : this.#lastByte) !== kCr)) this.#line++;
          j++;
        }
        if (j > i) {
          this.#append(chunk, i, j);
          i = j;
          continue;
        }
        i++;
        this.#state = State.QuoteInQuoted;
        continue;
      }
      const b = chunk[i++] as number;
      if (b === kLf) out.push(this.#endRecord(base + i));
      else if (b === kComma) this.#endField();
      else if (state === State.QuoteInQuoted && b === kQuote) {
        this.#append(chunk, i - 1, i);
        this.#state = State.Quoted;
      } else if (b === kCr) i = this.#crLineEnd(chunk, i, base, out);
      else {
        this.#fail('a character after the closing double quote of a field');
        this.#append(chunk, i - 1, i);
        this.#state = State.Unquoted;
        this.#quotedField = false;
      }
    }
    this.#offset = base + n;
    this.#lastByte = chunk[n - 1] as number;
    return out;
  }

  /**
   * A CR outside quotes ends the record: with the LF after it when one
   * follows (CRLF), on its own otherwise (CR-only line ends).
   * @param i - the index just past the CR.
   * @returns where scanning goes on.
   */
  #crLineEnd(chunk: Uint8Array, i: number, base: number, out: CsvRawRecord[]): number {
    if (i === chunk.length) {
      this.#crPending = true;
      return i;
    }
    if (chunk[i] === kLf) {
      out.push(this.#endRecord(base + i + 1));
      return i + 1;
    }
    out.push(this.#endRecord(base + i));
    return i;
  }

  /**
   * Ends the input: returns the last record when the file does not end with
   * a line break, or a malformed record when a quoted field is unterminated.
   * @returns the last record, if any.
   */
  end(): CsvRawRecord | undefined {
    if (this.#crPending) {
      this.#crPending = false;
      return this.#endRecord(this.#offset);
    }
    if (this.#state === State.Quoted) this.#fail('a quoted field is not terminated before the end of the file');
    if (this.#state === State.FieldStart && this.#fields.length === 0 && this.#recordBytes === 0) return undefined;
    return this.#endRecord(this.#offset);
  }

  #append(chunk: Uint8Array, start: number, end: number): void {
    this.#recordBytes += end - start;
    if (this.#tooLarge) return;
    if (this.#recordBytes > this.#maxRecordBytes) {
      this.#tooLarge = true;
      this.#field.clear();
      this.#fields = [];
      return;
    }
    this.#field.pushRange(chunk, start, end);
  }

  #fail(reason: string): void {
    this.#error ??= reason;
  }

  #endField(): void {
    this.#recordBytes++;
    if (!this.#tooLarge) this.#fields.push(this.#field.take());
    this.#field.clear();
    this.#state = State.FieldStart;
    this.#quotedField = false;
  }

  #endRecord(endOffset: number): CsvRawRecord {
    const quoted = this.#quotedField;
    this.#endField();
    const fields = this.#fields;
    const blank = !quoted && !this.#tooLarge && this.#error === null && fields.length === 1 && fields[0]?.length === 0;
    const error = this.#tooLarge
      ? { code: 'TOO_LARGE' as const, reason: `record is over ${this.#maxRecordBytes} bytes` }
      : this.#error !== null
        ? { code: 'MALFORMED_RECORD' as const, reason: this.#error }
        : null;
    const record: CsvRawRecord = { line: this.#recordLine, endLine: this.#line, endOffset, fields: this.#tooLarge ? [] : fields, error, blank };
    this.#line++;
    this.#recordLine = this.#line;
    this.#fields = [];
    this.#recordBytes = 0;
    this.#tooLarge = false;
    this.#error = null;
    this.#quotedField = false;
    this.#state = State.FieldStart;
    return record;
  }
}

/**
 * Parses a whole CSV text (for tests and small inputs).
 * @param text - the CSV text.
 * @returns rows of decoded fields, blank lines skipped; malformed records throw.
 * @throws {RangeError} naming the line of a malformed record.
 */
export function parseCsv(text: string): string[][] {
  const scanner = new CsvScanner({ maxRecordBytes: Number.MAX_SAFE_INTEGER });
  const records = scanner.push(Buffer.from(text, 'utf8'));
  const last = scanner.end();
  if (last !== undefined) records.push(last);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  return records
    .filter((r) => !r.blank)
    .map((r) => {
      if (r.error !== null) throw new RangeError(`line ${r.line}: ${r.error.reason}`);
      return r.fields.map((f) => decoder.decode(f));
    });
}
