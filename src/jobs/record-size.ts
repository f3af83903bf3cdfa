/**
 * How large an object of an iterable source would be as JSON, worked out
 * only as far as a cap: the walk stops once the cap is passed, so a huge,
 * deep or cyclic object costs at most `max` steps and no recursion.
 */

/**
 * Whether an object would take more than `max` bytes as UTF-8 JSON
 * (approximately: numbers count 8 bytes, and no quotes or separators are
 * counted, so a record is refused only when it is surely over the cap).
 * @param value - the object.
 * @param max - the cap in bytes.
 * @returns true when the object is over the cap (a cyclic one always is).
 */
export function recordBytesOver(value: object, max: number): boolean {
  let bytes = 0;
  const stack: unknown[] = [value];
  const add = (n: number): boolean => {
    bytes += n;
    return bytes > max;
  };
  const addString = (s: string): boolean => {
    // A UTF-16 unit is at most 3 UTF-8 bytes: short strings skip the count.
    if (bytes + s.length * 3 <= max) return add(s.length);
    return add(Buffer.byteLength(s, 'utf8'));
  };
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (addString(v)) return true;
    } else if (v !== null && typeof v === 'object') {
      // Every object and every entry counts at least one byte: a cycle passes the cap.
      if (add(1)) return true;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          if (add(1)) return true;
          stack.push(v[i]);
        }
      } else {
        for (const key in v) {
          if (!Object.hasOwn(v, key)) continue;
          if (add(1) || addString(key)) return true;
          stack.push((v as Record<string, unknown>)[key]);
        }
      }
    } else if (add(typeof v === 'number' ? 8 : 4)) return true;
  }
  return false;
}
