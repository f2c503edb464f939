/**
 * Benchmark plumbing: child server processes, a bare node:http baseline, autocannon runs, and the
 * report. Everything runs on loopback; every run is bounded in time.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';

export const CLI = path.resolve('dist/src/cli/index.js');

export interface Result {
  name: string;
  /** Requests (or operations) per second. */
  rate: number;
  unit: string;
  p50?: number;
  p99?: number;
  errors?: number;
  non2xx?: number;
  target?: string;
  note?: string;
}

export const settings = {
  connections: Number(process.env.BENCH_CONNECTIONS ?? 50),
  warmupSeconds: Number(process.env.BENCH_WARMUP ?? 2),
  seconds: Number(process.env.BENCH_SECONDS ?? 5),
};

export function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'ss-bench-'));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** The same-run ceiling: node:http answering a fixed 1 KB JSON body, in its own process. */
export async function startBare(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  const code = `
    const body = JSON.stringify({ resourceType: 'Basic', id: 'x', text: 'x'.repeat(1000) }).slice(0, 1024);
    require('http').createServer((q, s) => { s.writeHead(200, { 'content-type': 'application/json' }); s.end(body); })
      .listen(${port}, '127.0.0.1', () => process.stdout.write('ready\\n'));`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill('SIGKILL') };
}

export async function waitFor(url: string, timeoutMs = 30_000): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) {
        await r.arrayBuffer();
        return performance.now() - t0;
      }
    } catch {
      /* not up yet */
    }
    if (performance.now() - t0 > timeoutMs) throw new Error(`${url} not ready after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export interface Server {
  url: string;
  dataDir: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** `smart-sandbox serve` as a child process; resolves once `readyPath` answers 200. */
export async function startServer(dataDir: string, args: string[] = [], readyPath = '/healthz', env: Record<string, string> = {}): Promise<Server & { readyMs: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', String(port), '--data-dir', dataDir, ...args], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}${readyPath}`);
  const readyMs = performance.now() - t0;
  return {
    url,
    dataDir,
    child,
    readyMs,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Runs the CLI synchronously against a data dir and returns stdout. */
export async function cli(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`cli ${args.join(' ')} failed: ${err}`))));
  });
}

type CannonOpts = Omit<autocannon.Options, 'url' | 'connections' | 'duration'> & { connections?: number };

export async function cannon(name: string, url: string, opts: CannonOpts = {}, extra: Partial<Result> = {}): Promise<Result> {
  const connections = opts.connections ?? settings.connections;
  if (settings.warmupSeconds > 0) await autocannon({ url, ...opts, connections, duration: settings.warmupSeconds } as autocannon.Options);
  const r = await autocannon({ url, ...opts, connections, duration: settings.seconds } as autocannon.Options);
  return toResult(name, r, extra);
}

/** One table row from an autocannon run. */
export function toResult(name: string, r: autocannon.Result, extra: Partial<Result> = {}): Result {
  return {
    name,
    rate: r.requests.average,
    unit: 'req/s',
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    ...extra,
  };
}

export function report(results: Result[], baseline: number): string {
  const lines = [
    `bare node:http 1 KB baseline (same run): ${Math.round(baseline)} req/s; ${settings.connections} connections, ${settings.seconds} s per scenario after ${settings.warmupSeconds} s warm-up`,
    '',
    '| scenario | rate | ratio to bare | p50 ms | p99 ms | errors / non-2xx | target |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    const ratio = r.unit === 'req/s' || r.unit === 'launches/s' ? (r.rate / baseline).toFixed(3) : '';
    lines.push(
      `| ${r.name} | ${Math.round(r.rate).toLocaleString('en')} ${r.unit} | ${ratio} | ${r.p50 ?? ''} | ${r.p99 ?? ''} | ${r.errors ?? ''} / ${r.non2xx ?? ''} | ${r.target ?? ''}${r.note ? ` (${r.note})` : ''} |`,
    );
  }
  return lines.join('\n');
}
