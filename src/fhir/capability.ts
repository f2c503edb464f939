/**
 * The CapabilityStatement (R4 §3.1.0.14 `metadata`), generated from what the server really does: the
 * registry's search parameters per type, the interactions the routes implement, and the SMART
 * security extension (App Launch 2.2 "Capability Statement") with `oauth-uris` built from the same
 * `sandboxUrls()` as discovery. Cached per base URL (the definitions do not change while running).
 */
import { sandboxUrls } from '../config/urls.js';
import { AUDIT_SEARCH_PARAMS, AUDIT_TYPE } from './audit-events.js';
import { resourceTypes } from './definitions.js';
import { paramsOf } from './registry.js';

const cache = new Map<string, string>();

const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

/** Searchable parameters of `type` as served (indexed, or served from resource columns). */
function searchable(type: string) {
  return [...paramsOf(type).values()].filter((p) => p.type !== 'special' && (p.extract || p.code === '_id' || p.code === '_lastUpdated'));
}

/**
 * `_revinclude` values usable on a search of each type: every `Source:param` whose reference
 * parameter may point at it (R4 CapabilityStatement.rest.resource.searchRevInclude). AuditEvent is
 * never a source: it is not in the resource store.
 */
function revIncludeTargets(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const all = [...resourceTypes()].sort();
  for (const src of all) {
    if (src === AUDIT_TYPE) continue;
    for (const p of searchable(src)) {
      if (p.type !== 'reference') continue;
      for (const target of p.targets.length ? p.targets : all) {
        if (!out.has(target)) out.set(target, []);
        out.get(target)!.push(`${src}:${p.code}`);
      }
    }
  }
  return out;
}

function resourceEntry(type: string, revIncludes: Map<string, string[]>): Record<string, unknown> {
  const params = searchable(type);
  const refParams = params.filter((p) => p.type === 'reference').map((p) => `${type}:${p.code}`);
  const entry: Record<string, unknown> = {
    type,
    profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
    interaction: TYPE_INTERACTIONS.map((code) => ({ code })),
    versioning: 'versioned',
    readHistory: true,
    updateCreate: true,
    conditionalCreate: true,
    conditionalRead: 'not-supported',
    conditionalUpdate: true,
    conditionalDelete: 'single',
    referencePolicy: ['literal', 'logical'],
    searchInclude: ['*', ...refParams],
    searchRevInclude: ['*', ...(revIncludes.get(type) ?? [])],
    searchParam: params.map((p) => ({
      name: p.code,
      ...(p.url ? { definition: p.url } : {}),
      type: p.type,
    })),
  };
  // R4 Resource-validate (validate-operation.ts): type and instance level on every stored type.
  entry.operation = [{ name: 'validate', definition: 'http://hl7.org/fhir/OperationDefinition/Resource-validate' }];
  if (type === 'Patient') {
    (entry.operation as unknown[]).push({ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' });
  }
  return entry;
}

/** Bulk Data Access IG 2.0 operations (src/bulk, issue 8), served on the SMART-secured base only. */
function withBulkOperations(entry: Record<string, unknown>): Record<string, unknown> {
  const type = entry.type;
  if (type === 'Patient') {
    entry.operation = [...((entry.operation as unknown[]) ?? []), { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export' }];
  } else if (type === 'Group') {
    entry.operation = [...((entry.operation as unknown[]) ?? []), { name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export' }];
  }
  return entry;
}

/** The launch audit trail (audit-events.ts): read and search only, its own parameters. */
function auditEventEntry(): Record<string, unknown> {
  return {
    type: AUDIT_TYPE,
    profile: `http://hl7.org/fhir/StructureDefinition/${AUDIT_TYPE}`,
    documentation: 'The SMART launch audit trail (registrations and uses of launch contexts), read-only, for user/ and system/ scopes; never in a patient compartment.',
    interaction: [{ code: 'read' }, { code: 'search-type' }],
    versioning: 'no-version',
    readHistory: false,
    updateCreate: false,
    conditionalCreate: false,
    conditionalRead: 'not-supported',
    conditionalUpdate: false,
    conditionalDelete: 'not-supported',
    searchParam: AUDIT_SEARCH_PARAMS.map((p) => ({
      name: p.name,
      definition: p.name === '_id' ? 'http://hl7.org/fhir/SearchParameter/Resource-id' : `http://hl7.org/fhir/SearchParameter/AuditEvent-${p.name}`,
      type: p.type,
      documentation: p.documentation,
    })),
  };
}

/** @param opts.auditEvents the launch audit trail is served as AuditEvent (on `/data` only). */
function resources(withAudit: boolean, withBulk: boolean): Record<string, unknown>[] {
  const rev = revIncludeTargets();
  const out: Record<string, unknown>[] = [];
  for (const t of [...resourceTypes()].sort()) {
    if (t === AUDIT_TYPE) {
      if (withAudit) out.push(auditEventEntry());
    } else {
      const entry = resourceEntry(t, rev);
      out.push(withBulk ? withBulkOperations(entry) : entry);
    }
  }
  return out;
}

export function capabilityStatement(publicUrl: string, sandboxId: string, base: 'data' | 'open', opts: { auditEvents?: boolean } = {}): string {
  const withAudit = base === 'data' && opts.auditEvents === true;
  const key = `${publicUrl}|${sandboxId}|${base}|${withAudit}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const u = sandboxUrls(publicUrl, sandboxId);
  const security: Record<string, unknown> =
    base === 'data'
      ? {
          cors: true,
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
              text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)',
            },
          ],
          extension: [
            {
              url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
              extension: [
                { url: 'authorize', valueUri: u.authorize },
                { url: 'token', valueUri: u.token },
                { url: 'introspect', valueUri: u.introspect },
                { url: 'revoke', valueUri: u.revoke },
                { url: 'register', valueUri: u.register },
                { url: 'launch-registration', valueUri: u.launchRegistration },
              ],
            },
          ],
        }
      : { cors: true, description: 'Open (unauthenticated) access to this sandbox' };
  const cs = {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    publisher: 'smart-sandbox',
    kind: 'instance',
    ...(base === 'data' ? { instantiates: ['http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data'] } : {}),
    software: { name: 'smart-sandbox' },
    implementation: { description: `smart-sandbox ${sandboxId}`, url: base === 'data' ? u.iss : u.open },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security,
        resource: resources(withAudit, base === 'data'),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
        ...(base === 'data' ? { operation: [{ name: 'export', definition: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export' }] } : {}),
        searchParam: [
          { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
          { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
          { name: '_tag', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-tag' },
          { name: '_profile', type: 'uri', definition: 'http://hl7.org/fhir/SearchParameter/Resource-profile' },
          { name: '_security', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-security' },
          { name: '_source', type: 'uri', definition: 'http://hl7.org/fhir/SearchParameter/Resource-source' },
        ],
      },
    ],
  };
  const text = JSON.stringify(cs);
  cache.set(key, text);
  return text;
}
