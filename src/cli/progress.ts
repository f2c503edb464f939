import cliProgress from 'cli-progress';

/** A progress bar on a terminal; silent (no output) when stderr is not a TTY. */
export function progressBar(label: string, total: number): { update: (done: number, total?: number) => void; stop: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% {value}/{total} resources`, stream: process.stderr, hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    update: (done, t) => {
      if (t !== undefined && t !== total) bar.setTotal((total = t));
      bar.update(done);
    },
    stop: () => bar.stop(),
  };
}
