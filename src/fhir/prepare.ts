/**
 * Validation and indexing of a written version, the synchronous CPU work of a write. Both grow with
 * the number of elements (a 1 MiB resource with a quarter million of them takes seconds), so large
 * resources are prepared on a worker thread while the event loop keeps serving other requests; small
 * ones, nearly all writes, are prepared inline (a round trip would cost more than the work).
 * The worker starts on the first large write, is shared by the process, and never keeps it alive.
 */
import { Worker } from 'node:worker_threads';
import type { Resource } from '@medplum/fhirtypes';
import { checkIndexRows } from '../config/limits.js';
import { FhirError, type OutcomeIssue } from '../errors/errors.js';
import { type IndexResult, indexResource } from './indexer.js';
import { validateFull } from './validation.js';

/** Serialized size from which a resource is prepared off the event loop (inline it would take ~50 ms or more). */
export const OFF_THREAD_BYTES = 32 * 1024;

type Reply = { id: number; index?: IndexResult; status?: number; issues?: OutcomeIssue[]; crash?: string };

let worker: Worker | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (r: IndexResult) => void; reject: (e: unknown) => void }>();

function failAll(error: Error): void {
  for (const p of pending.values()) p.reject(error);
  pending.clear();
  worker = undefined;
}

function thread(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./prepare-thread.js', import.meta.url));
  w.unref();
  w.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (pending.size === 0) w.unref();
    if (r.index) p.resolve(r.index);
    else if (r.issues) p.reject(new FhirError(r.status ?? 400, r.issues));
    else p.reject(new Error(`resource preparation failed: ${r.crash}`));
  });
  w.on('error', (e) => failAll(e));
  w.on('exit', () => failAll(new Error('the resource preparation thread stopped')));
  worker = w;
  return w;
}

/** The work itself (also the worker's): validation, indexing, and the index-size limit. */
export function prepareInline(resource: Resource, validate: boolean): IndexResult {
  if (validate) validateFull(resource);
  const index = indexResource(resource);
  checkIndexRows(resource.resourceType, index.rows as unknown as Record<string, unknown[]>);
  return index;
}

/**
 * Validates (when `validate`) and indexes `resource`, whose serialized size is `bytes`; refuses an
 * index larger than LIMITS.indexRows (its rows are written synchronously with the resource).
 */
export function prepareVersion(resource: Resource, validate: boolean, bytes: number): Promise<IndexResult> | IndexResult {
  // Under tsx (development) the thread's compiled entry does not exist: prepare inline.
  if (bytes < OFF_THREAD_BYTES || import.meta.url.endsWith('.ts')) return prepareInline(resource, validate);
  const w = thread();
  const id = ++nextId;
  return new Promise<IndexResult>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    // Referenced while work is pending, so that a request in flight is answered before exit.
    w.ref();
    w.postMessage({ id, resource, validate });
  });
}
