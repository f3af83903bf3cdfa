/**
 * Benchmark worker for the exchange suite: returns a batch of vectors by
 * SharedArrayBuffer, by transfer or by structured clone.
 */
import { parentPort } from 'node:worker_threads';
import { exchangeReply, type ExchangeRequest } from '../exchange.js';

parentPort?.on('message', (request: ExchangeRequest) => {
  const { message, transfer } = exchangeReply(request);
  parentPort?.postMessage(message, transfer);
});
