/**
 * Worker-thread entry of prepare.ts: validates and indexes one resource per message, off the main
 * event loop. It loads the R4 definitions once, on its first message.
 */
import { parentPort } from 'node:worker_threads';
import type { Resource } from '@medplum/fhirtypes';
import { FhirError } from '../errors/errors.js';
import { prepareInline } from './prepare.js';

interface Job {
  id: number;
  resource: Resource;
  validate: boolean;
}

parentPort!.on('message', (job: Job) => {
  try {
    parentPort!.postMessage({ id: job.id, index: prepareInline(job.resource, job.validate) });
  } catch (e) {
    if (e instanceof FhirError) parentPort!.postMessage({ id: job.id, status: e.status, issues: e.issues });
    else parentPort!.postMessage({ id: job.id, crash: (e as Error)?.message ?? String(e) });
  }
});
