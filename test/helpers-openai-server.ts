/**
 * Provider test helpers: the loopback OpenAI-compatible server (one
 * implementation, in bench/src/openai-server.ts, shared with the provider
 * bench) and engines on it, closed after each test.
 */
import { afterEach } from 'vitest';
import { OpenAIServer, type OpenAIServerOptions } from '../bench/src/openai-server.js';
import { Engine, type EngineCreateOptions } from '../src/engine.js';
import { kTestCacheDir } from './helpers.js';

export { OpenAIServer, serverVector, type OpenAIServerOptions, type RecordedRequest, type ServerFault } from '../bench/src/openai-server.js';

/**
 * Starts servers and provider engines for a test file and closes them after
 * each test: call once at the top of the file.
 * @returns setup(serverOptions, provider): a fresh server and an engine on it (8 dims, fast retries).
 */
export function useProviderEngines(): (serverOptions?: OpenAIServerOptions, provider?: EngineCreateOptions['provider']) => Promise<{ server: OpenAIServer; e: Engine }> {
  const servers: OpenAIServer[] = [];
  const engines: Engine[] = [];
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.close();
    for (const s of servers.splice(0)) await s.close();
  });
  return async (serverOptions = {}, provider = {}) => {
    const server = await OpenAIServer.start(serverOptions);
    servers.push(server);
    const e = await Engine.create({ model: 'openai:m', workers: 1, cacheDir: kTestCacheDir, provider: { baseUrl: server.baseUrl, dims: 8, retryBaseMs: 1, retryMaxMs: 5, ...provider } }, { env: {} });
    engines.push(e);
    return { server, e };
  };
}
