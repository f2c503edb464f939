/**
 * The FHIR capability's entry point: owns the resource store and hands out per-request repositories
 * (routes.ts) or acts privileged for other capabilities (FhirDirectory: pickers, launch checks),
 * seeding, import and export. Nothing heavy happens at construction: the R4 definitions load on the
 * first write, search or CapabilityStatement, so a restart serves its first read quickly.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Config } from '../config/config.js';
import { FhirError } from '../errors/errors.js';
import { AccessPolicy } from './access/policy.js';
import type { RequestAccess } from './access/types.js';
import { AUDIT_TYPE } from './audit-events.js';
import { processBundle } from './bundle.js';
import { ID_PATTERN, isResourceType } from './definitions.js';
import type { FhirDirectory } from './directory.js';
import { indexResource } from './indexer.js';
import { FhirRepository, type ValidationLevel } from './repository.js';
import { handleGet } from './get.js';
import type { ResourceStore, WriteOp, WriteRecord } from './store.js';

export class FhirService implements FhirDirectory {
  readonly store: ResourceStore;
  private readonly config: Config;

  constructor(opts: { store: ResourceStore; config: Config }) {
    this.store = opts.store;
    this.config = opts.config;
  }

  /** The same service without the read-query time budget, for background work (an inline export). */
  unbudgeted(): FhirService {
    return new FhirService({ store: this.store.unbudgeted(), config: this.config });
  }

  /** A repository bound to one tenant and one request's access. */
  repository(sandbox: { key: number; id: string }, access: RequestAccess | { kind: 'privileged' }, base: 'data' | 'open' = 'data', validation?: ValidationLevel): FhirRepository {
    return new FhirRepository({
      store: this.store,
      tenant: sandbox.key,
      policy: new AccessPolicy(access),
      baseUrl: `${this.config.publicUrl}/${sandbox.id}/${base}`,
      validation,
    });
  }

  private privileged(sandboxKey: number): FhirRepository {
    return this.repository({ key: sandboxKey, id: '_' }, { kind: 'privileged' });
  }

  async read(sandboxKey: number, type: string, id: string): Promise<Resource | undefined> {
    if (!isResourceType(type) || !ID_PATTERN.test(id)) return undefined;
    const row = await this.store.read(sandboxKey, type, id);
    return row && !row.deleted && row.content ? (JSON.parse(row.content) as Resource) : undefined;
  }

  async search(sandboxKey: number, type: string, params: URLSearchParams): Promise<Resource[]> {
    const r = await this.privileged(sandboxKey).search([type], [...params]);
    return r.matches.map((m) => JSON.parse(m.content) as Resource);
  }

  /** Privileged batch/transaction (seeding, `smart-sandbox import`); full validation. */
  async transaction(sandboxKey: number, bundle: Bundle): Promise<Bundle> {
    const repo = this.privileged(sandboxKey);
    return (await processBundle(repo, bundle, 'minimal', (path, query) => handleGet(repo, path, query))) as unknown as Bundle;
  }

  /**
   * Bulk loader for generated data: ids are kept (create or overwrite), only the structure is checked
   * (resourceType, id, JSON object), every resource is indexed, all in one atomic write set.
   */
  async bulkLoad(sandboxKey: number, resources: Resource[]): Promise<number> {
    const prepared = resources.map((r, i) => {
      if (!r || typeof r !== 'object' || Array.isArray(r)) throw bulkError(i, 'not a JSON object');
      if (typeof r.resourceType !== 'string' || !isResourceType(r.resourceType)) throw bulkError(i, `unknown resourceType ${JSON.stringify(r.resourceType)}`);
      // The audit trail is served from its own table; a stored AuditEvent would join patient compartments.
      if (r.resourceType === AUDIT_TYPE) throw bulkError(i, 'AuditEvent is the read-only launch audit trail and cannot be loaded');
      if (typeof r.id !== 'string' || !ID_PATTERN.test(r.id)) throw bulkError(i, `missing or invalid id ${JSON.stringify(r.id)}`);
      return r;
    });
    const now = Date.now();
    // Plan: current versions first (the same id may repeat: later copies build on earlier ones).
    const versions = new Map<string, number>();
    const ops: WriteOp[] = [];
      for (const r of prepared) {
        const key = `${r.resourceType}/${r.id}`;
        let curVersion = versions.get(key);
        if (curVersion === undefined) curVersion = (await this.store.read(sandboxKey, r.resourceType, r.id!))?.version ?? 0;
        const version = curVersion + 1;
        versions.set(key, version);
        const { resourceType, id, meta, ...rest } = r as Resource & Record<string, unknown>;
        const resource = { resourceType, id, meta: { ...(meta ?? {}), versionId: String(version), lastUpdated: new Date(now).toISOString() }, ...rest } as Resource;
        const ix = indexResource(resource);
        const rec: WriteRecord = {
          type: resourceType,
          id: id!,
          content: JSON.stringify(resource),
          version,
          lastUpdated: now,
          method: curVersion ? 'PUT' : 'POST',
          index: ix.rows,
          compartments: ix.compartments,
        };
        ops.push({ kind: 'put', rec, expect: curVersion });
      }
    await this.store.apply(sandboxKey, ops);
    if (prepared.length >= 1000) await this.store.optimize();
    return prepared.length;
  }

  async *exportAll(sandboxKey: number): AsyncIterable<Resource> {
    for await (const text of this.store.exportAll(sandboxKey)) yield JSON.parse(text) as Resource;
  }

  purgeSandbox(sandboxKey: number): Promise<void> {
    return this.store.purge(sandboxKey);
  }
}

function bulkError(i: number, msg: string): FhirError {
  return new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: `resource[${i}]: ${msg}` }]);
}
