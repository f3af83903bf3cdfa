/**
 * How many cases the property tests run and from which seed: 300 from seed
 * 42 in `npm test`; a longer run sets `VECFORGE_FUZZ_RUNS` (and
 * `VECFORGE_FUZZ_SEED` for new cases), as `npm run fuzz` does.
 */
function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new RangeError(`${name} must be a positive decimal integer, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Cases per property. @default 300 */
export const kFuzzRuns = positiveInt('VECFORGE_FUZZ_RUNS', 300);
/** The seed of every property. @default 42 */
export const kFuzzSeed = positiveInt('VECFORGE_FUZZ_SEED', 42);
