import { describe, expect, test } from 'vitest';
import { indexTasks } from '../src/index/worker-tasks.js';
import { pcaTasks } from '../src/pca/worker-tasks.js';
import { createTaskRegistry, dispatchTask, type WorkerContext } from '../src/scheduler/task-registry.js';
import type { WorkerRequest } from '../src/scheduler/protocol.js';
import { schedulerTasks } from '../src/scheduler/worker-side.js';

const context = {} as WorkerContext;

describe('the worker task registry', () => {
  test('is frozen and holds every kind each layer registers', () => {
    const registry = createTaskRegistry(schedulerTasks, indexTasks, pcaTasks);
    expect(Object.isFrozen(registry)).toBe(true);
    expect(Object.keys(registry).sort()).toEqual(['embed', 'embed-run', 'fit-pca', 'insert', 'load-graph', 'ping', 'save-graph', 'search']);
  });

  test('refuses an unknown kind, naming the valid ones', async () => {
    const registry = createTaskRegistry(schedulerTasks, pcaTasks);
    await expect(dispatchTask(registry, { kind: 'nope' } as unknown as WorkerRequest, context)).rejects.toMatchObject({
      code: 'ERR_WORKER',
      message: 'Unsupported task: nope. Must be one of [ping, embed, embed-run, fit-pca]',
    });
  });

  test('refuses a kind registered twice', () => {
    expect(() => createTaskRegistry(pcaTasks, pcaTasks)).toThrow('task "fit-pca" is registered twice');
  });
});
