/**
 * Row shapes and their mapping to domain objects, shared by the SQLite and PostgreSQL stores: both
 * backends use the same logical schema (ADR 0004), so a row means the same thing in either.
 */
import type { StoredLaunch } from '../launch/model.js';
import type { Sandbox } from './types.js';

export interface SandboxRow {
  key: number;
  id: string;
  name: string;
  open_read: number;
  open_write: number;
  open_registration: number;
  created_at: number;
}

export const toSandbox = (r: SandboxRow): Sandbox => ({
  key: r.key,
  id: r.id,
  name: r.name,
  openRead: Number(r.open_read) === 1,
  openWrite: Number(r.open_write) === 1,
  openRegistration: Number(r.open_registration) === 1,
  createdAt: r.created_at,
});

export interface LaunchRow {
  tenant: number;
  id_hash: string;
  client_id: string | null;
  username: string | null;
  parameters: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  consumed_at: number | null;
  simulate_error: string | null;
  bound_clients: string | null;
  authority: string | null;
  session_uid: string | null;
}

/** The columns of a launch row, in the order of LAUNCH_COLUMNS. */
export const LAUNCH_COLUMNS = 'tenant, id_hash, client_id, bound_clients, username, authority, session_uid, parameters, created_at, created_by, expires_at, simulate_error';
export const launchValues = (l: StoredLaunch): unknown[] => [
  l.sandboxKey,
  l.idHash,
  l.clientIds[0] ?? null,
  l.clientIds.length ? JSON.stringify(l.clientIds) : null,
  l.username ?? null,
  l.authority,
  l.sessionUid ?? null,
  JSON.stringify(l.parameters),
  l.createdAt,
  l.createdBy,
  l.expiresAt,
  l.simulateError ?? null,
];

export const toLaunch = (r: LaunchRow): StoredLaunch => ({
  sandboxKey: r.tenant,
  idHash: r.id_hash,
  // Rows from before migration 9 have one client_id and no authority: they keep their binding and,
  // failing closed, never sign anyone in without a password.
  clientIds: r.bound_clients ? (JSON.parse(r.bound_clients) as string[]) : r.client_id ? [r.client_id] : [],
  username: r.username ?? undefined,
  authority: (r.authority ?? 'app-user') as StoredLaunch['authority'],
  sessionUid: r.session_uid ?? undefined,
  parameters: JSON.parse(r.parameters),
  createdAt: r.created_at,
  createdBy: r.created_by,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at ?? undefined,
  simulateError: (r.simulate_error ?? undefined) as StoredLaunch['simulateError'],
});

export interface ResourceRow {
  rid: number;
  rtype: string;
  id: string;
  version: number;
  last_updated: number;
  deleted: number;
  content: string | null;
}
