/**
 * `coord dashboard`: the server's guards (127.0.0.1 only, a token on every request, --port),
 * and the page in a real headless Chromium (Debian's `chromium`, or COORD_CHROMIUM, driven by
 * playwright-core): it shows a running run's streams and follows it live, without a reload, as
 * a stream ends. Without Chromium that test is skipped, saying so (test/requires.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Rig, fixture, type Spawned } from '../rig.js';
import { chromiumCommand, requires } from '../requires.js';

const needs = requires('chromium');
/** Headless, and quiet: without the background-networking flags Chromium keeps dialling out. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** A heartbeat message that would run script if the page inserted it as markup. */
const HOSTILE = '<img src=x onerror=window.pwned=1>beat';

let rig: Rig;
beforeEach(() => {
  rig = new Rig();
});
afterEach(async () => {
  await rig.cleanup();
});

/** The first line `coord dashboard` prints: its URL. */
function dashboardUrl(d: Spawned): Promise<URL> {
  return new Promise((resolve, reject) => {
    let out = '';
    d.child.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(new URL(out.slice(0, nl)));
    });
    void d.done.then((r) => reject(new Error(`coord dashboard exited ${r.code}: ${r.stderr}`)));
  });
}

/** Local addresses listening on `port` (from /proc/net/tcp and tcp6; state 0A is LISTEN). */
function listeners(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== '0A' || !local?.endsWith(`:${hexPort}`)) continue;
      const addr = local.slice(0, -5);
      found.push(
        addr.length === 8
          ? (addr.match(/../g) ?? [])
              .reverse()
              .map((h) => parseInt(h, 16))
              .join('.')
          : addr,
      );
    }
  }
  return found;
}

/** True when a TCP connection to host:port is refused. */
function refused(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
}

describe('coord dashboard', () => {
  needs.it('shows a running run in Chromium and follows it live as a stream ends', async () => {
    const gate = join(rig.dir, 'gate');
    const lockFile = join(rig.dir, 'a.ts');
    rig.writePlan({
      agent_coordination: { convergence_points: [{ name: 'both', type: 'barrier', streams: ['slow', 'quick'] }], resources: { slots: 2 } },
      streams: [
        {
          id: 'slow',
          command: `coord heartbeat --progress 40 --message '${HOSTILE}' && coord lock ${lockFile} -- ${fixture('wait-for-file.js', gate)}`,
          resources: { slots: 1 },
        },
        {
          id: 'quick',
          command:
            'coord propose ship --quorum all --voters quick,slow && coord vote ship yes && coord state set plan.step 1 && coord state set plan.step 2 && coord state set plan.ready true && echo quick done',
        },
        // waits for both units while slow holds one
        { id: 'big', command: 'true', resources: { slots: 2 } },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'stream-started' && e.stream === 'slow');
    await rig.waitForEvent((e) => e.type === 'lock-granted' && e.stream === 'slow');
    // quick's third state change is version 3
    await rig.waitForEvent((e) => e.type === 'state-version' && e.version === 3);

    const dashboard = rig.spawn(['dashboard']);
    const url = await dashboardUrl(dashboard);
    const port = Number(url.port);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.searchParams.get('token')).toMatch(/^[0-9a-f]{32}$/);

    // the token guards every route; the server answers on 127.0.0.1 only
    for (const path of ['/', '/api/status', '/api/events']) {
      expect((await fetch(new URL(path, url.origin))).status).toBe(403);
      expect((await fetch(new URL(`${path}?token=${'0'.repeat(32)}`, url.origin))).status).toBe(403);
    }
    const status = await fetch(new URL(`/api/status${url.search}`, url.origin));
    expect(status.status).toBe(200);
    expect(((await status.json()) as { run: { id: string } }).run.id).toBe(rig.runIds()[0]);
    expect(listeners(port)).toEqual(['127.0.0.1']);
    expect(await refused('127.0.0.2', port)).toBe(true);

    const browser = await chromium.launch({ executablePath: chromiumCommand(), args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url.href);
      await page.evaluate('window.loadedOnce = true');

      await page.waitForSelector('#run[data-state="running"]');
      const slow = page.locator('#streams tr[data-stream="slow"]');
      await page.locator('#streams tr[data-stream="slow"][data-state="running"]').waitFor();
      await page.locator('#streams tr[data-stream="quick"][data-state="succeeded"]').waitFor();
      // the message arrives as text, never as markup
      await slow.locator('.msg').waitFor();
      expect((await slow.locator('.msg').textContent())?.trim()).toBe(HOSTILE);
      expect(await slow.locator('img').count()).toBe(0);
      expect(await slow.locator('progress').getAttribute('value')).toBe('40');
      expect(['pending', 'waiting']).toContain(await page.locator('#points tr[data-point="both"]').getAttribute('data-state'));
      const slots = page.locator('#resources tr[data-resource="slots"]');
      expect(await slots.textContent()).toContain('1 / 2');
      expect(await slots.locator('td').nth(2).textContent()).toMatch(/^slow 1 unit since /);
      expect(await slots.locator('td').nth(3).textContent()).toMatch(/^big 2 units since /);
      expect(await page.locator('#proposals tr[data-proposal="ship"][data-state="pending"]').textContent()).toContain(
        '1 yes, 0 no, 2 of 2 needed (quick, slow)',
      );
      expect(await page.locator(`#locks tr[data-lock="${lockFile}"]`).textContent()).toMatch(/slow pid \d+ token 1/);
      expect(await page.locator('#state tr[data-version="3"]').textContent()).toContain('plan.ready');
      await page.locator('#events tr[data-type="stream-started"][data-event-stream="slow"]').waitFor();

      rig.write('gate', '');
      await page.locator('#streams tr[data-stream="slow"][data-state="succeeded"]').waitFor({ timeout: 20_000 });
      const ended = page.locator('#events tr[data-type="stream-ended"][data-event-stream="slow"]');
      await ended.waitFor();
      expect(await ended.textContent()).toContain('slow succeeded');
      await page.locator('#points tr[data-point="both"][data-state="done"]').waitFor();
      await page.locator('#run[data-state="succeeded"]').waitFor();
      await page.locator('#events tr[data-type="run-ended"]').waitFor();
      // the last event is at the bottom of the log, and the page was never reloaded
      expect(await page.locator('#events tr').last().getAttribute('data-type')).toBe('run-ended');
      expect(await page.evaluate('window.loadedOnce === true && window.pwned === undefined')).toBe(true);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
    expect((await run.done).code).toBe(0);
    dashboard.child.kill('SIGTERM');
    const closed = await dashboard.done;
    expect(closed.code).toBe(0);
    expect(closed.stderr).toContain('dashboard stopped (SIGTERM)');
  });

  needs.it("shows a verify: point's checks as they run, and who its search left out", async () => {
    const gate = join(rig.dir, 'gate');
    rig.writePlan({
      agent_coordination: {
        convergence_points: [
          {
            name: 'gated',
            type: 'barrier',
            streams: ['good', 'bad'],
            verify: `${fixture('wait-for-file.js', gate)} && test ! -e BROKEN`,
            on_verify_failure: 'exclude',
          },
        ],
      },
      streams: [
        { id: 'good', command: 'echo fine > good.txt' },
        { id: 'bad', command: 'echo oops > BROKEN' },
      ],
    });
    const run = rig.spawn(['run', 'plan.yaml']);
    await rig.waitForEvent((e) => e.type === 'point-verifying' && e.check === 1);
    const dashboard = rig.spawn(['dashboard']);
    const url = await dashboardUrl(dashboard);
    const browser = await chromium.launch({ executablePath: chromiumCommand(), args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url.href);
      const point = page.locator('#points tr[data-point="gated"]');
      // the first check, of both streams, runs (it waits for the gate)
      await point.locator('li[data-check="1"][data-outcome="running"]').waitFor();
      expect(await point.getAttribute('data-state')).toBe('merging');
      expect(await point.locator('li[data-check="1"]').textContent()).toMatch(/^#1 (good, bad|bad, good): running/);
      rig.write('gate', '');
      // it fails, the search checks parts, and bad is left out
      await point.locator('li[data-check="1"][data-outcome="failed"]').waitFor({ timeout: 20_000 });
      await page.locator('#points tr[data-point="gated"][data-state="done"]').waitFor({ timeout: 20_000 });
      expect(await point.locator('li.excluded').textContent()).toBe('left out: bad (the check fails with its changes)');
      expect(await point.locator('li[data-outcome="passed"]').count()).toBeGreaterThan(0);
      expect(await page.locator('#streams tr[data-stream="bad"]').getAttribute('data-state')).toBe('failed');
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
    expect((await run.done).code).toBe(1);
    dashboard.child.kill('SIGTERM');
    await dashboard.done;
  });

  it('listens on the port given, and refuses a bad or busy one', async () => {
    rig.writePlan({ streams: [{ id: 'one', command: 'true' }] });
    expect((await rig.coord(['run', 'plan.yaml'])).code).toBe(0);
    const bad = await rig.coord(['dashboard', '--port', 'http']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--port');

    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    const taken = await rig.coord(['dashboard', '--port', String(port)]);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`port ${port} on 127.0.0.1 is in use`);
    await new Promise<void>((r) => busy.close(() => r()));

    const dashboard = rig.spawn(['dashboard', rig.runIds()[0] ?? '', '--port', String(port)]);
    const url = await dashboardUrl(dashboard);
    expect(url.port).toBe(String(port));
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'nonce-");
    expect(await page.text()).toContain('<h2 id="h-streams">Streams');
    dashboard.child.kill('SIGINT');
    expect((await dashboard.done).code).toBe(0);
  });
});
