/**
 * The FHIR capability's entry point: owns the resource store and hands out per-request repositories
 * (routes.ts) or acts privileged for other capabilities (FhirDirectory: pickers, launch checks),
 * seeding, import and export. Nothing heavy happens at construction: the R4 definitions load on the
 * first write, search or CapabilityStatement, so a restart serves its first read quickly.
 */
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { Config } from '../config/config.js';
import { FhirError } from '../errors/errors.js';
import { SqliteResourceStore } from '../storage/sqlite/fhir/resource-store.js';
import type { Sqlite } from '../storage/sqlite/open.js';
import { AccessPolicy } from './access/policy.js';
import type { RequestAccess } from './access/types.js';
import { AUDIT_TYPE } from './audit-events.js';
import { processBundle } from './bundle.js';
import { ID_PATTERN, isResourceType } from './definitions.js';
import type { FhirDirectory } from './directory.js';
import { indexResource } from './indexer.js';
import { FhirRepository, type ValidationLevel } from './repository.js';
import { handleGet } from './get.js';
import type { ResourceStore } from './store.js';

export class FhirService implements FhirDirectory {
  readonly store: ResourceStore;
  private readonly config: Config;

  constructor(opts: { db: Sqlite; config: Config }) {
    this.store = new SqliteResourceStore(opts.db);
    this.config = opts.config;
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

  read(sandboxKey: number, type: string, id: string): Resource | undefined {
    if (!isResourceType(type) || !ID_PATTERN.test(id)) return undefined;
    const row = this.store.read(sandboxKey, type, id);
    return row && !row.deleted && row.content ? (JSON.parse(row.content) as Resource) : undefined;
  }

  search(sandboxKey: number, type: string, params: URLSearchParams): Resource[] {
    const r = this.privileged(sandboxKey).search([type], [...params]);
    return r.matches.map((m) => JSON.parse(m.content) as Resource);
  }

  /** Privileged batch/transaction (seeding, `smart-sandbox import`); full validation. */
  transaction(sandboxKey: number, bundle: Bundle): Bundle {
    const repo = this.privileged(sandboxKey);
    return processBundle(repo, bundle, 'minimal', (path, query) => handleGet(repo, path, query)) as unknown as Bundle;
  }

  /**
   * Bulk loader for generated data: ids are kept (create or overwrite), only the structure is checked
   * (resourceType, id, JSON object), every resource is indexed, all in one DB transaction.
   */
  bulkLoad(sandboxKey: number, resources: Resource[]): number {
    const prepared = resources.map((r, i) => {
      if (!r || typeof r !== 'object' || Array.isArray(r)) throw bulkError(i, 'not a JSON object');
      if (typeof r.resourceType !== 'string' || !isResourceType(r.resourceType)) throw bulkError(i, `unknown resourceType ${JSON.stringify(r.resourceType)}`);
      // The audit trail is served from its own table; a stored AuditEvent would join patient compartments.
      if (r.resourceType === AUDIT_TYPE) throw bulkError(i, 'AuditEvent is the read-only launch audit trail and cannot be loaded');
      if (typeof r.id !== 'string' || !ID_PATTERN.test(r.id)) throw bulkError(i, `missing or invalid id ${JSON.stringify(r.id)}`);
      return r;
    });
    const now = Date.now();
    this.store.transaction(() => {
      for (const r of prepared) {
        const cur = this.store.read(sandboxKey, r.resourceType, r.id!);
        const version = cur ? cur.version + 1 : 1;
        const { resourceType, id, meta, ...rest } = r as Resource & Record<string, unknown>;
        const resource = { resourceType, id, meta: { ...(meta ?? {}), versionId: String(version), lastUpdated: new Date(now).toISOString() }, ...rest } as Resource;
        const ix = indexResource(resource);
        this.store.put(sandboxKey, {
          type: resourceType,
          id: id!,
          content: JSON.stringify(resource),
          version,
          lastUpdated: now,
          method: cur ? 'PUT' : 'POST',
          index: ix.rows,
          compartments: ix.compartments,
        });
      }
    });
    if (prepared.length >= 1000) this.store.optimize();
    return prepared.length;
  }

  *exportAll(sandboxKey: number): Iterable<Resource> {
    for (const text of this.store.exportAll(sandboxKey)) yield JSON.parse(text) as Resource;
  }

  purgeSandbox(sandboxKey: number): void {
    this.store.purge(sandboxKey);
  }
}

function bulkError(i: number, msg: string): FhirError {
  return new FhirError(400, [{ severity: 'error', code: 'invalid', diagnostics: `resource[${i}]: ${msg}` }]);
}
