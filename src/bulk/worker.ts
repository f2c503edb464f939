/**
 * Worker-thread entry of an export (service.ts starts one per running job): it opens its own services,
 * hence its own SQLite connection (WAL: readers never block the API's writers), runs the job and
 * exits. Keeps the export's CPU work off the API's event loop entirely.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import { createServices } from '../services.js';
import { executeJob } from './job.js';

interface Input {
  config: Config;
  jobId: string;
  retentionMs: number;
}

const input = workerData as Input;
// The export already runs off the API's event loop: its reads need no worker threads of their own.
const services = await createServices({ ...input.config, readWorkers: 0 });
try {
  const outcome = await executeJob(
    { jobs: services.bulk.jobs, fhir: services.fhir, dataDir: input.config.dataDir, retentionMs: input.retentionMs },
    input.jobId,
    async () => {},
  );
  parentPort?.postMessage({ outcome });
} finally {
  await services.close();
}
