/**
 * Preloaded into the soak's `serve` child (`node --expose-gc --import dist/bench/gc-probe.js …`): on
 * an IPC message `{type: 'heap'}` it collects garbage fully and answers with process.memoryUsage(),
 * so that the soak samples the heap that stays alive, not the garbage of the moment. Bench-only:
 * nothing in the product loads this file.
 */
const gc = (globalThis as { gc?: () => void }).gc;
if (typeof process.send === 'function') {
  process.on('message', (m: { type?: string }) => {
    if (m?.type !== 'heap') return;
    // Two passes: the first may only queue finalizers whose objects the second frees.
    gc?.();
    gc?.();
    const u = process.memoryUsage();
    process.send!({ type: 'heap', gc: gc !== undefined, heapUsed: u.heapUsed, heapTotal: u.heapTotal, rss: u.rss, external: u.external });
  });
  // The IPC channel must not keep `serve` alive after SIGTERM.
  (process.channel as { unref?: () => void } | undefined)?.unref?.();
}
