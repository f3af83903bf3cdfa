import { describe, expect, test } from 'vitest';
import type { Progress } from '../src/jobs/checkpoint.js';
import { planJob, type JobPlan, type PlanInput, type PublishedJob } from '../src/jobs/plan.js';
import type { JobCounts } from '../src/jobs/types.js';

const counts = (failed = 0): JobCounts => ({ read: 10, added: 10, updated: 0, unchanged: 0, deleted: 0, failed, embedded: 10, cacheHits: 0 });
const progress: Progress = { version: 'v000002', position: { item: 5, line: 6, offset: 120 }, errorsBytes: 0, counts: counts() };
const fingerprint = { kind: 'build', model: 'glove-100d', source: { path: '/in.jsonl', sizeBytes: 10 }, refitPca: false, pca: undefined };
/** The fingerprint as checkpoint.json (JSON) has it: keys holding undefined are gone. */
const saved = JSON.parse(JSON.stringify(fingerprint)) as Record<string, unknown>;
const none: PublishedJob = { state: 'none' };
const corrupt = new Error('manifest of v000001 is missing or not valid JSON');

const base: PlanInput = { kind: 'build', incremental: false, fingerprint, checkpoint: undefined, resumable: undefined, jobDirExists: false, published: none };
const reindex: PlanInput = { ...base, kind: 'reindex', incremental: true, fingerprint: { ...fingerprint, kind: 'reindex' } };
const running = { fingerprint: saved, phase: 'running' } as const;
const publishing = { fingerprint: saved, phase: 'publishing' } as const;
const otherJob = { fingerprint: { ...saved, model: 'bert' }, phase: 'running' } as const;
const builtSame: PublishedJob = { state: 'version', name: 'v000001', job: { fingerprint: saved, counts: counts(2) } };

const cases: Array<[string, Partial<PlanInput>, JobPlan]> = [
  ['nothing there: a build starts afresh', {}, { action: 'start', fork: false, discarded: null }],
  ['nothing there: an incremental reindex starts from a copy of the current version', reindex, { action: 'start', fork: true, discarded: null }],
  ['a full reindex starts from nothing', { ...reindex, incremental: false }, { action: 'start', fork: false, discarded: null }],
  ['a job directory without checkpoint is discarded', { jobDirExists: true }, { action: 'start', fork: false, discarded: 'the job before stopped before its first checkpoint' }],
  ['a checkpoint of another job is discarded, naming what changed', { checkpoint: otherJob, resumable: progress, jobDirExists: true }, { action: 'start', fork: false, discarded: 'it belongs to a different job (model changed)' }],
  ['a checkpoint of another format is discarded', { checkpoint: { fingerprint: { ...saved, extra: 1 }, phase: 'running' } }, { action: 'start', fork: false, discarded: 'it belongs to a different job (format changed)' }],
  ['a checkpoint whose work index does not match is discarded', { checkpoint: running, resumable: undefined, jobDirExists: true }, { action: 'start', fork: false, discarded: 'its work index does not match it' }],
  ['a matching checkpoint is resumed (compared as JSON: undefined keys do not count)', { checkpoint: running, resumable: progress, jobDirExists: true }, { action: 'resume', progress }],
  ['a reindex resumes too', { ...reindex, checkpoint: { fingerprint: JSON.parse(JSON.stringify(reindex.fingerprint)) as Record<string, unknown>, phase: 'running' }, resumable: progress }, { action: 'resume', progress }],
  ['killed while publishing: the publish is finished', { checkpoint: publishing, resumable: progress }, { action: 'finish-publish', progress }],
  ['a build that published already is a no-op', { published: builtSame }, { action: 'already-built', version: 'v000001', counts: counts(2), discarded: null }],
  ['a build that published already, with a stale job directory', { published: builtSame, jobDirExists: true }, { action: 'already-built', version: 'v000001', counts: counts(2), discarded: 'the job before stopped before its first checkpoint' }],
  ['a build on an index another job built is refused', { published: { state: 'version', name: 'v000003', job: { fingerprint: { ...saved, model: 'bert' }, counts: counts() } } }, { action: 'refuse' }],
  ['a build on an index without job counts is refused', { published: { state: 'version', name: 'v000001', job: { fingerprint: saved } } }, { action: 'refuse' }],
  ['a build on an index no job built is refused', { published: { state: 'version', name: 'v000001', job: undefined } }, { action: 'refuse' }],
  ['a build on an unreadable index fails with its error', { published: { state: 'unreadable', error: corrupt } }, { action: 'fail', error: corrupt }],
  ['a resumed build does not consult the current version', { checkpoint: running, resumable: progress, published: { state: 'unreadable', error: corrupt } }, { action: 'resume', progress }],
  ['a reindex does not consult the published job', { ...reindex, published: builtSame }, { action: 'start', fork: true, discarded: null }],
];

describe('planJob', () => {
  test.each(cases)('%s', (_name, input, expected) => {
    expect(planJob({ ...base, ...input })).toEqual(expected);
  });

  test('the unreadable error is passed on as the same object', () => {
    const plan = planJob({ ...base, published: { state: 'unreadable', error: corrupt } });
    expect(plan.action).toBe('fail');
    expect(plan.action === 'fail' ? plan.error : undefined).toBe(corrupt);
  });
});
