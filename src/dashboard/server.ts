/**
 * The dashboard's HTTP server (node:http): bound to 127.0.0.1 only, every request must carry
 * the random token as `?token=` (compared in constant time), and the Host header must name the
 * loopback address, so that neither another machine nor a web page that rebinds a DNS name to
 * 127.0.0.1 can read the run.
 *
 * Routes: `/` the page; `/api/status` the {@link DashboardStatus} as JSON; `/api/events`
 * Server-Sent Events (https://html.spec.whatwg.org/multipage/server-sent-events.html): every
 * event of `events.jsonl` so far as `coord` events, then new ones as the file grows (polled),
 * and a `status` event with a fresh snapshot whenever events arrived or the snapshot changed.
 * Each `coord` batch ends with an `id:` (the byte cursor), so a reconnecting EventSource
 * resumes where it left off through `Last-Event-ID`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Backend } from '../backend/types.js';
import type { CoordEvent } from '../events/types.js';
import { describeEvent } from '../report/describe.js';
import { loadDashboardStatus } from './sources.js';
import { renderPage } from './page.js';

/** How often the event log is re-read for a connected page. */
const POLL_MS = 250;
/** How often the snapshot is re-read when no event arrived (heartbeats and progress change without events). */
const STATUS_MS = 1000;
/** A comment line keeps idle connections (and proxies) from timing out. */
const KEEPALIVE_MS = 15_000;

/** What {@link startDashboard} needs: where the run is stored and which port to take (0: any free one). */
export interface DashboardOptions {
  backend: Backend;
  runId: string;
  /** The run's directory (for `locks/` and `state/`). */
  runDir: string;
  port: number;
}

/** A running dashboard server. */
export interface Dashboard {
  /** `http://127.0.0.1:PORT/?token=…`: the only address that answers. */
  url: string;
  port: number;
  /** Stops accepting requests, ends every event stream and closes the server. */
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens (rejects on EADDRINUSE and the like). */
export async function startDashboard(opts: DashboardOptions): Promise<Dashboard> {
  const token = randomBytes(16).toString('hex');
  const tokenDigest = digest(token);
  const open = new Set<ServerResponse>();
  const stops = new Set<() => void>();
  let port = opts.port;
  const status = (): Promise<string> => loadDashboardStatus(opts.backend, opts.runId).then((s) => JSON.stringify(s));

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(COMMON_HEADERS)) res.setHeader(k, v);
    const url = URL.parse(req.url ?? '/', 'http://127.0.0.1');
    if (!url) return send(res, 400, 'text/plain', 'bad request\n');
    const given = url.searchParams.get('token') ?? '';
    if (!timingSafeEqual(digest(given), tokenDigest) || !loopbackHost(req.headers.host, port)) return send(res, 403, 'text/plain', 'forbidden\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    if (url.pathname === '/') {
      const nonce = randomBytes(16).toString('base64');
      res.setHeader('Content-Security-Policy', csp(nonce));
      return send(res, 200, 'text/html; charset=utf-8', renderPage(nonce));
    }
    if (url.pathname === '/api/status') {
      status().then(
        (body) => send(res, 200, 'application/json; charset=utf-8', body + '\n'),
        (e: unknown) => send(res, 500, 'text/plain', `${e instanceof Error ? e.message : String(e)}\n`),
      );
      return;
    }
    if (url.pathname === '/api/events') return streamEvents(req, res);
    return send(res, 404, 'text/plain', 'not found\n');
  });

  function streamEvents(req: IncomingMessage, res: ServerResponse): void {
    const last = Number(req.headers['last-event-id']);
    let cursor = Number.isSafeInteger(last) && last > 0 ? last : 0;
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write('retry: 2000\n\n');
    open.add(res);
    let busy = false;
    let lastStatus = '';
    let statusAt = 0;
    let problem = '';
    const emit = (text: string): void => {
      if (!res.writableEnded) res.write(text);
    };
    const tick = async (): Promise<void> => {
      if (busy) return;
      busy = true;
      try {
        const batch = await opts.backend.readEvents(opts.runId, cursor);
        cursor = batch.cursor;
        const n = batch.events.length;
        if (n > 0)
          emit(
            batch.events
              .map((event, i) => `event: coord\n${i === n - 1 ? `id: ${cursor}\n` : ''}data: ${JSON.stringify({ event, text: describe(event) })}\n\n`)
              .join(''),
          );
        if (n > 0 || Date.now() - statusAt >= STATUS_MS) {
          statusAt = Date.now();
          const body = await status();
          if (body !== lastStatus || n > 0) emit(`event: status\ndata: ${body}\n\n`);
          lastStatus = body;
        }
        problem = '';
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (message !== problem) emit(`event: problem\ndata: ${JSON.stringify(message)}\n\n`);
        problem = message;
      } finally {
        busy = false;
      }
    };
    const poll = setInterval(() => void tick(), POLL_MS);
    const keepalive = setInterval(() => emit(': keep-alive\n\n'), KEEPALIVE_MS);
    const stop = (): void => {
      clearInterval(poll);
      clearInterval(keepalive);
      open.delete(res);
      stops.delete(stop);
      if (!res.writableEnded) res.end();
    };
    stops.add(stop);
    req.on('close', stop);
    res.on('error', stop);
    void tick();
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: opts.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const stop of [...stops]) stop();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Sent with every response: nothing cached, sniffed, framed, or leaked through a Referer (the URL holds the token). */
const COMMON_HEADERS: Record<string, string> = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
};

/** The page may run only its own inline script and style, and talk only to this server. */
function csp(nonce: string): string {
  return [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    "connect-src 'self'",
    'img-src data:',
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Fixed-length digests, so that timingSafeEqual compares equal lengths whatever was sent. */
function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The Host header a browser sends for this server: the loopback address or `localhost`, with our port. */
function loopbackHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** An event as one line of text; an event type this build does not know is shown by its type. */
function describe(event: CoordEvent): string {
  try {
    return describeEvent(event);
  } catch {
    return event.type;
  }
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
