/**
 * Progress of long CLI work (import, synthetic data), counted in resources with a rate, on stderr so
 * that stdout stays the command's result. On a terminal one line is redrawn in place; elsewhere (a
 * log, CI, a pipe) a plain line is printed every few seconds, so that a long import is visibly alive
 * without flooding the log. Either way a last line gives the total and the mean rate.
 */
const REDRAW_MS = 100;
/** Plain-line period when stderr is not a terminal; SMART_SANDBOX_PROGRESS_MS overrides it (0: every update). */
const PLAIN_DEFAULT_MS = 5000;

export interface Progress {
  /** Resources done so far; the total may become known (or change) on the way. */
  update(done: number, total?: number): void;
  /** Prints the last line (unless `silent`) and stops. */
  stop(opts?: { silent?: boolean }): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  now?: () => number;
  plainEveryMs?: number;
}

function plainPeriod(): number {
  const v = Number(process.env.SMART_SANDBOX_PROGRESS_MS);
  return Number.isFinite(v) && v >= 0 && process.env.SMART_SANDBOX_PROGRESS_MS !== '' ? v : PLAIN_DEFAULT_MS;
}

function rate(done: number, ms: number): string {
  const perSecond = ms > 0 ? (done * 1000) / ms : 0;
  return `${perSecond >= 100 ? Math.round(perSecond) : perSecond.toFixed(1)}/s`;
}

/** `label: 1200/5000 resources (24%), 812/s` or, with no total, `label: 1200 resources, 812/s`. */
export function progressLine(label: string, done: number, total: number | undefined, elapsedMs: number): string {
  const count = total ? `${done}/${total} resources (${Math.floor((done * 100) / total)}%)` : `${done} resources`;
  return `${label}: ${count}, ${rate(done, elapsedMs)}`;
}

export function progress(label: string, total?: number, opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const tty = !!stream.isTTY;
  const every = tty ? REDRAW_MS : (opts.plainEveryMs ?? plainPeriod());
  const start = now();
  // The first line comes one period after the start: quick work prints only its last line.
  let last = start;
  let drawn = false;
  let done = 0;
  let stopped = false;
  const write = (line: string) => stream.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
  return {
    update(n, t) {
      if (stopped) return;
      done = n;
      if (t !== undefined) total = t;
      const at = now();
      if (at - last < every) return;
      last = at;
      drawn = true;
      write(progressLine(label, done, total, at - start));
    },
    stop({ silent } = {}) {
      if (stopped) return;
      stopped = true;
      const ms = now() - start;
      if (silent) {
        if (tty && drawn) stream.write('\r\x1b[K');
        return;
      }
      const line = `${label}: ${done} resources in ${(ms / 1000).toFixed(1)} s, ${rate(done, ms)}`;
      stream.write(tty ? `\r${line}\x1b[K\n` : `${line}\n`);
    },
  };
}
