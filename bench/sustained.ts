/**
 * Sustained writes (issue 17): validated Observation creates at full speed for 60 s against a server
 * process on its default SQLite store, while the WAL is watched from outside:
 * - peak WAL: the largest size of the `-wal` file, polled every 5 ms;
 * - WAL bytes per create: frames appended to the log (the wal-index header's `mxFrame`, in the `-shm`
 *   file, sqlite.org/walformat.html §2.1), summed across the log's restarts, times the frame size,
 *   divided by the creates. Polling can miss the frames of the last few creates before a restart, so
 *   the figure is a slight underestimate.
 */
import fs from 'node:fs';
import autocannon from 'autocannon';
import { cli, type Result, settings, startServer, tmpDir, toResult } from './harness.js';

export const SUSTAINED_SECONDS = 60;
const MIB = 1024 * 1024;

const observation = JSON.stringify({
  resourceType: 'Observation',
  status: 'final',
  category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
  code: { coding: [{ system: 'http://loinc.org', code: '58941-6', display: 'Transcutaneous Bilirubin' }] },
  subject: { reference: 'Patient/sustained-1' },
  effectiveDateTime: '2018-03-06T10:00:00Z',
  valueQuantity: { value: 10.2, unit: 'mg/dL', system: 'http://unitsofmeasure.org', code: 'mg/dL' },
});

/** Polls the WAL file's size and the log's frame count. */
function watchWal(dbFile: string): { stop: () => { peakBytes: number; framesAppended: number; frameBytes: number } } {
  let peakBytes = 0;
  let framesAppended = 0;
  let lastFrames = 0;
  let pageSize = 0;
  const header = Buffer.alloc(20);
  const timer = setInterval(() => {
    try {
      peakBytes = Math.max(peakBytes, fs.statSync(`${dbFile}-wal`).size);
    } catch {
      /* no WAL file at this instant (truncated or not yet created) */
    }
    let fd: number | undefined;
    try {
      fd = fs.openSync(`${dbFile}-shm`, 'r');
      if (fs.readSync(fd, header, 0, 20, 0) < 20) return;
    } catch {
      return;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    // WalIndexHdr (native byte order): szPage u16 at 14 (1 means 65536), mxFrame u32 at 16.
    const sz = header.readUInt16LE(14);
    if (sz) pageSize = sz === 1 ? 65536 : sz;
    const frames = header.readUInt32LE(16);
    framesAppended += frames >= lastFrames ? frames - lastFrames : frames; // a restart counts from 0
    lastFrames = frames;
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return { peakBytes, framesAppended, frameBytes: pageSize + 24 };
    },
  };
}

export async function benchSustainedWrites(results: Result[], seconds = SUSTAINED_SECONDS): Promise<void> {
  const dataDir = tmpDir();
  await cli(dataDir, ['sandbox', 'create', 'sustained', '--open', '--open-write']);
  const server = await startServer(dataDir, ['--no-demo']);
  try {
    const base = `${server.url}/sustained/open`;
    const headers = { 'content-type': 'application/fhir+json', prefer: 'return=minimal' };
    await fetch(`${base}/Patient/sustained-1`, { method: 'PUT', headers, body: JSON.stringify({ resourceType: 'Patient', id: 'sustained-1' }) });
    // Warm-up: the first write loads the R4 definitions.
    for (let i = 0; i < 20; i++) await (await fetch(`${base}/Observation`, { method: 'POST', headers, body: observation })).arrayBuffer();
    const watch = watchWal(`${dataDir}/smart-sandbox.db`);
    const r = await autocannon({ url: `${base}/Observation`, method: 'POST', body: observation, headers, connections: settings.connections, duration: seconds });
    const wal = watch.stop();
    const creates = r.requests.total;
    const ready = (await (await fetch(`${server.url}/readyz`)).json()) as { wal?: { limitBytes: number; escalations: number } };
    const perCreate = creates > 0 ? (wal.framesAppended * wal.frameBytes) / creates : 0;
    results.push(
      toResult(`sustained writes, ${seconds} s: create Observation (validated)`, r, {
        target: `peak WAL ≤ ${((ready.wal?.limitBytes ?? 0) / MIB).toFixed(0)} MiB + 25%, p99 < 50 ms`,
        note: `peak WAL ${(wal.peakBytes / MIB).toFixed(1)} MiB, ${(perCreate / 1024).toFixed(1)} KB of WAL per create, ${ready.wal?.escalations ?? 0} escalated checkpoints`,
      }),
    );
  } finally {
    await server.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
