/**
 * Benchmark worker: hosts the loopback OpenAI-compatible server
 * (openai-server.ts) on its own thread, so that the server's work does not
 * share the event loop of the client being measured. Started with the
 * server's options as workerData; posts `{ baseUrl }` once listening;
 * answers `'stats'` with `{ requests, maxInFlight, randomFaults }` and
 * `'close'` by closing the server and replying `'closed'`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { OpenAIServer, type OpenAIServerOptions } from '../openai-server.js';

const server = await OpenAIServer.start(workerData as OpenAIServerOptions);
parentPort?.on('message', (message: 'stats' | 'close') => {
  if (message === 'stats') {
    parentPort?.postMessage({ requests: server.requests.length, maxInFlight: server.maxInFlight, randomFaults: server.randomFaults });
    return;
  }
  server.close().then(
    () => parentPort?.postMessage('closed'),
    () => parentPort?.postMessage('closed'),
  );
});
parentPort?.postMessage({ baseUrl: server.baseUrl });
