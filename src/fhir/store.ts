/**
 * The storage contract of the FHIR data layer (docs/architecture.md §7). The SQLite implementation lives in
 * `src/storage/sqlite/fhir/resource-store.ts`; a PostgreSQL one must pass the same contract suite
 * (`test/fhir/store-contract.ts`). Index rows name their search parameter by code; the store maps
 * (resource type, code) to its persisted `pid`.
 */

/** Index rows of one resource, per search-parameter type (docs/storage.md §2). */
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

/**
 * A check run inside the write transaction right after an op is applied (the access constraint of the
 * request, docs/architecture.md §6): when the query returns no row, the whole write set rolls back and
 * `error()` is thrown. `sql` is dialect-neutral (positional `?` parameters).
 */
export interface WriteGuard {
  sql(rid: number): { sql: string; params: unknown[] };
  error(): Error;
}

/** One write of a write set (`ResourceStore.apply`). */
export type WriteOp =
  | { kind: 'put'; rec: WriteRecord; expect?: number; guard?: WriteGuard }
  | { kind: 'remove'; type: string; id: string; version: number; lastUpdated: number; expect?: number };

/**
 * The current version of a resource was not the one a write set expected (`expect`, 0 = absent):
 * another writer got there first. If-Match turns it into 412, the repository retries plain updates.
 */
export class VersionConflict extends Error {
  constructor(
    readonly type: string,
    readonly id: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`version conflict on ${type}/${id}: expected ${expected}, found ${actual}`);
  }
}

/**
 * Every method may be asynchronous (PostgreSQL); the SQLite implementation returns resolved promises.
 * Writes are "plan then apply": callers read, validate and index first, then hand the whole write set
 * to `apply`, which runs it atomically (one SQLite transaction / one BEGIN … COMMIT), checking each
 * op's expected version inside the transaction.
 */
export interface ResourceStore {
  /** `sqlite` or `postgres`: the search compiler's dialect-specific diagnostics (EXPLAIN) need it. */
  readonly dialect: 'sqlite' | 'postgres';
  read(tenant: number, type: string, id: string): Promise<StoredResource | undefined>;
  readVersion(tenant: number, type: string, id: string, version: number): Promise<StoredResource | undefined>;
  /** Applies a write set atomically; returns one StoredResource per op (a removal: the deletion version). */
  apply(tenant: number, ops: WriteOp[]): Promise<StoredResource[]>;
  /** Writes a new current version (creating the logical resource when absent); returns it with its rid. */
  put(tenant: number, rec: WriteRecord): Promise<StoredResource>;
  /** Marks the resource deleted (new version without content) and drops its search index rows. */
  remove(tenant: number, type: string, id: string, version: number, lastUpdated: number): Promise<void>;
  history(tenant: number, q: HistoryQuery): Promise<HistoryEntry[]>;
  /** Patients whose compartment holds the resource (as of its last version). */
  compartmentsOf(tenant: number, rid: number): Promise<string[]>;
  /** The persisted pid of (type, code), or undefined when never indexed. */
  pid(type: string, code: string): Promise<number | undefined>;
  /** The pid when already known to this process (no I/O): the search compiler's fast path. */
  cachedPid(type: string, code: string): number | undefined;
  /** Reloads the pid dictionary (pids another node allocated since this one last looked). */
  refreshPids(): Promise<void>;
  /**
   * The same store without the read-query time budget (docs/adr/0006-query-time-budget.md), for
   * background work that legitimately reads for long: an export run inline on the API's process.
   */
  unbudgeted(): ResourceStore;
  /** Raw read query for the search compiler (SQLite-flavoured SQL, positional `?` parameters). */
  query<T = Record<string, unknown>>(sql: string, params: unknown[]): Promise<T[]>;
  /** Every current resource's JSON, in insertion order, streamed in chunks. */
  exportAll(tenant: number): AsyncIterable<string>;
  /** Deletes every row of the tenant. */
  purge(tenant: number): Promise<void>;
  /** Refreshes planner statistics after bulk loads. */
  optimize(): Promise<void>;
}
