/**
 * The part of autocannon's API the serve suite uses (the package ships no
 * types of its own).
 */
declare module 'autocannon' {
  /** One request template; `setupRequest` may rewrite it before each send. */
  interface Request {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (request: Request, context: Record<string, unknown>) => Request;
  }
  /** Options of a run. */
  interface Options {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    requests?: Request[];
  }
  /** An hdr-histogram summary. */
  interface Histogram {
    average: number;
    p50: number;
    p99: number;
    max: number;
  }
  /** What a run measured. */
  interface Result {
    latency: Histogram;
    requests: Histogram & { total: number };
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
