/**
 * The storage contract of the FHIR data layer (architecture §7). The SQLite implementation lives in
 * `src/storage/sqlite/fhir/resource-store.ts`; a PostgreSQL one must pass the same contract suite
 * (`test/fhir/store-contract.ts`). Index rows name their search parameter by code; the store maps
 * (resource type, code) to its persisted `pid`.
 */

/** Index rows of one resource, per search-parameter type (fhir-storage.md §5). */
export interface IndexRows {
  token: Array<[code: string, system: string | null, value: string | null]>;
  tokenText: Array<[code: string, norm: string]>;
  string: Array<[code: string, norm: string, exact: string]>;
  date: Array<[code: string, lo: number, hi: number]>;
  number: Array<[code: string, lo: number | null, hi: number | null]>;
  quantity: Array<[code: string, value: number | null, system: string | null, unit: string | null]>;
  uri: Array<[code: string, uri: string]>;
  ref: Array<[code: string, ttype: string | null, tid: string | null, url: string | null]>;
  composite: Array<
    [
      code: string,
      c1System: string | null,
      c1Code: string | null,
      c2Num: number | null,
      c2System: string | null,
      c2Code: string | null,
      c2Lo: number | null,
      c2Hi: number | null,
      c2Str: string | null,
    ]
  >;
}

export function emptyIndexRows(): IndexRows {
  return { token: [], tokenText: [], string: [], date: [], number: [], quantity: [], uri: [], ref: [], composite: [] };
}

/** The current (or a past) version of one logical resource. */
export interface StoredResource {
  rid: number;
  type: string;
  id: string;
  version: number;
  /** Epoch ms. */
  lastUpdated: number;
  deleted: boolean;
  /** The JSON text with `meta.versionId`/`meta.lastUpdated` set; null for a deletion. */
  content: string | null;
}

export interface HistoryEntry extends StoredResource {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
}

export interface WriteRecord {
  type: string;
  id: string;
  /** Full JSON text of the new version (meta already set). */
  content: string;
  version: number;
  lastUpdated: number;
  method: 'POST' | 'PUT' | 'PATCH';
  index: IndexRows;
  /** Patient ids whose compartment the resource belongs to. */
  compartments: string[];
}

export interface HistoryQuery {
  type?: string;
  id?: string;
  /** Only versions with lastUpdated >= since (epoch ms). */
  since?: number;
  /** Only these types (system history under a restricted grant). */
  types?: string[];
  limit: number;
  offset: number;
}

export interface ResourceStore {
  /** Runs `fn` atomically (nested calls become savepoints). Never pass an async function. */
  transaction<T>(fn: () => T): T;
  read(tenant: number, type: string, id: string): StoredResource | undefined;
  readVersion(tenant: number, type: string, id: string, version: number): StoredResource | undefined;
  /** Writes a new current version (creating the logical resource when absent); returns it with its rid. */
  put(tenant: number, rec: WriteRecord): StoredResource;
  /** Marks the resource deleted (new version without content) and drops its search index rows. */
  remove(tenant: number, type: string, id: string, version: number, lastUpdated: number): void;
  history(tenant: number, q: HistoryQuery): HistoryEntry[];
  /** Patients whose compartment holds the resource (as of its last version). */
  compartmentsOf(tenant: number, rid: number): string[];
  /** The persisted pid of (type, code), or undefined when never indexed. */
  pid(type: string, code: string): number | undefined;
  /** Raw read query for the search compiler (dialect-specific SQL, positional `?` parameters). */
  query<T = Record<string, unknown>>(sql: string, params: unknown[]): T[];
  /** Every current resource's JSON, in insertion order, streamed in chunks. */
  exportAll(tenant: number): Iterable<string>;
  /** Deletes every row of the tenant. */
  purge(tenant: number): void;
  /** Refreshes planner statistics after bulk loads. */
  optimize(): void;
}
