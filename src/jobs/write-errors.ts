/**
 * A full disk, said plainly: whichever write of a job meets it (a
 * checkpoint, the work index's save, errors.jsonl, publishing), the job
 * fails with one message that names the file it could not write and the
 * index directory to free space in.
 */
import { VecforgeError } from '../errors.js';

/** errno codes of a full disk or an exhausted quota. */
const kNoSpaceCodes = new Set(['ENOSPC', 'EDQUOT']);
const kMaxCauses = 8;

/**
 * The error a job reports for a write that met a full disk.
 * @param error - what a job step threw.
 * @param dir - the index directory.
 * @returns an ERR_IO VecforgeError naming the file and `dir` (the
 *   original as its cause), or undefined when `error` is not a full disk.
 */
export function noSpaceError(error: unknown, dir: string): VecforgeError | undefined {
  let code: string | undefined;
  let file: string | undefined;
  let e: unknown = error;
  for (let depth = 0; depth < kMaxCauses && e instanceof Error; depth++, e = e.cause) {
    const errno = e as NodeJS.ErrnoException;
    if (code === undefined && typeof errno.code === 'string' && kNoSpaceCodes.has(errno.code)) code = errno.code;
    // vecforge's own write errors may carry the errno only in their message
    // (a native save); an error of anyone else's code is taken by its code only.
    if (e instanceof VecforgeError) code ??= /\b(ENOSPC|EDQUOT)\b/.exec(e.message)?.[1] ?? (/no space left on device/i.test(e.message) ? 'ENOSPC' : undefined);
    file ??= typeof errno.path === 'string' ? errno.path : /\bcannot write (\/\S+?):? /.exec(`${e.message} `)?.[1];
  }
  if (code === undefined) return undefined;
  const what = code === 'EDQUOT' ? 'the disk quota is exhausted (EDQUOT)' : 'no space left on the device (ENOSPC)';
  return new VecforgeError(
    'ERR_IO',
    `${what} writing ${file ?? 'a file'} in ${dir}: free space on that disk (or give the job a bigger one) and rerun the same command to resume; the published version is unchanged`,
    { cause: error },
  );
}
