/**
 * Executes one queued job from its row: claims it, runs the export under the kick-off grant, and
 * records the manifest or the failure. Shared by the worker thread (worker.ts, its own services and DB
 * connection) and the inline runner (service.ts). A deleted row means the job was cancelled: the next
 * progress report notices and the run stops.
 */
import path from 'node:path';
import type { FhirService } from '../fhir/service.js';
import { FhirError } from '../errors/errors.js';
import { ExportCancelled, runExport } from './export.js';
import type { BulkJobStore } from './store.js';

export interface JobDeps {
  jobs: BulkJobStore;
  fhir: FhirService;
  dataDir: string;
  retentionMs: number;
}

/** `{dataDir}/exports/{tenant}/{job}`: the job id is random and checked before any path use. */
export function jobDir(dataDir: string, tenant: number, jobId: string): string {
  if (!/^[A-Za-z0-9_-]{16,64}$/.test(jobId)) throw new Error('invalid job id');
  return path.join(dataDir, 'exports', String(tenant), jobId);
}

export type JobOutcome = 'done' | 'failed' | 'cancelled' | 'not-claimed';

export async function executeJob(deps: JobDeps, jobId: string, yieldTurn: () => Promise<void>): Promise<JobOutcome> {
  const { jobs, fhir } = deps;
  if (!(await jobs.claim(jobId))) return 'not-claimed';
  const job = await jobs.byId(jobId);
  if (!job) return 'cancelled';
  const repo = fhir.repository({ key: job.tenant, id: job.request.sandboxId }, { kind: 'token', grant: job.grant }, 'data');
  const dir = jobDir(deps.dataDir, job.tenant, job.id);
  try {
    const result = await runExport(repo, job.request, job.transactionTime, dir, {
      progress: async (text) => jobs.setProgress(jobId, text),
      yieldTurn,
    });
    return (await jobs.finish(jobId, result, deps.retentionMs)) ? 'done' : 'cancelled';
  } catch (e) {
    if (e instanceof ExportCancelled) return 'cancelled';
    // A FhirError is the client's problem (e.g. the Group became unreadable); anything else is ours.
    const msg = e instanceof FhirError ? e.message : `the export failed: ${(e as Error)?.message ?? String(e)}`;
    await jobs.fail(jobId, msg, deps.retentionMs);
    return 'failed';
  }
}
