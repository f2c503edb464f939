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
}

export const toLaunch = (r: LaunchRow): StoredLaunch => ({
  sandboxKey: r.tenant,
  idHash: r.id_hash,
  clientId: r.client_id ?? undefined,
  username: r.username ?? undefined,
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
