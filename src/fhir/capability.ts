/**
 * The CapabilityStatement (R4 §3.1.0.14 `metadata`), generated from what the server really does: the
 * registry's search parameters per type, the interactions the routes implement, and the SMART
 * security extension (App Launch 2.2 "Capability Statement") with `oauth-uris` built from the same
 * `sandboxUrls()` as discovery. Cached per base URL (the definitions do not change while running).
 */
import { sandboxUrls } from '../config/urls.js';
import { resourceTypes } from './definitions.js';
import { paramsOf } from './registry.js';

const cache = new Map<string, string>();

const TYPE_INTERACTIONS = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'history-type', 'create', 'search-type'];

function resourceEntry(type: string): Record<string, unknown> {
  const params = [...paramsOf(type).values()].filter((p) => p.type !== 'special' && (p.extract || p.code === '_id' || p.code === '_lastUpdated'));
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
    searchRevInclude: [...refParams],
    searchParam: params.map((p) => ({
      name: p.code,
      ...(p.url ? { definition: p.url } : {}),
      type: p.type,
    })),
  };
  if (type === 'Patient') {
    entry.operation = [{ name: 'everything', definition: 'http://hl7.org/fhir/OperationDefinition/Patient-everything' }];
  }
  return entry;
}

export function capabilityStatement(publicUrl: string, sandboxId: string, base: 'data' | 'open'): string {
  const key = `${publicUrl}|${sandboxId}|${base}`;
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
    software: { name: 'smart-sandbox' },
    implementation: { description: `smart-sandbox ${sandboxId}`, url: base === 'data' ? u.iss : u.open },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        security,
        resource: [...resourceTypes()].sort().map(resourceEntry),
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }, { code: 'history-system' }],
        searchParam: [
          { name: '_id', type: 'token', definition: 'http://hl7.org/fhir/SearchParameter/Resource-id' },
          { name: '_lastUpdated', type: 'date', definition: 'http://hl7.org/fhir/SearchParameter/Resource-lastUpdated' },
        ],
      },
    ],
  };
  const text = JSON.stringify(cs);
  cache.set(key, text);
  return text;
}
