/**
 * Saved launch scenarios (issue 6 "Launch"; HSPC's `LaunchScenario`, docs/hspc-compatibility.md §3):
 * an app, an optional persona and the launch parameters, relaunched in one click. Parameters are
 * stored already validated by the launch registration grammar, so a relaunch sends exactly what was
 * saved; existence (client, persona, patient) is checked again by the registration at each launch.
 */
import type { Sqlite } from '../storage/sqlite/open.js';

export interface Scenario {
  id: number;
  sandboxKey: number;
  name: string;
  description?: string;
  clientId: string;
  username?: string;
  parameters: Record<string, unknown>;
  createdAt: number;
  lastLaunchedAt?: number;
}

export interface ScenarioRow {
  id: number;
  tenant: number;
  name: string;
  description: string | null;
  client_id: string;
  username: string | null;
  parameters: string;
  created_at: number;
  last_launched_at: number | null;
}

export const toScenario = (r: ScenarioRow): Scenario => ({
  id: r.id,
  sandboxKey: r.tenant,
  name: r.name,
  description: r.description ?? undefined,
  clientId: r.client_id,
  username: r.username ?? undefined,
  parameters: JSON.parse(r.parameters) as Record<string, unknown>,
  createdAt: r.created_at,
  lastLaunchedAt: r.last_launched_at ?? undefined,
});

export class ScenarioExists extends Error {}

export interface ScenarioStore {
  list(sandboxKey: number): Promise<Scenario[]>;
  get(sandboxKey: number, id: number): Promise<Scenario | undefined>;
  /** Throws ScenarioExists when the name is taken in this sandbox. */
  create(sandboxKey: number, s: NewScenario): Promise<Scenario>;
  delete(sandboxKey: number, id: number): Promise<boolean>;
  markLaunched(sandboxKey: number, id: number, at?: number): Promise<void>;
  purgeSandbox(sandboxKey: number): Promise<void>;
}

export interface NewScenario {
  name: string;
  description?: string;
  clientId: string;
  username?: string;
  parameters: Record<string, unknown>;
}

export class SqliteScenarioStore implements ScenarioStore {
  private readonly listQ;
  private readonly oneQ;
  private readonly byNameQ;
  private readonly insQ;
  private readonly delQ;
  private readonly launchedQ;
  private readonly purgeQ;

  constructor(db: Sqlite) {
    this.listQ = db.prepare('SELECT * FROM console_scenario WHERE tenant = ? ORDER BY name');
    this.oneQ = db.prepare('SELECT * FROM console_scenario WHERE tenant = ? AND id = ?');
    this.byNameQ = db.prepare('SELECT 1 FROM console_scenario WHERE tenant = ? AND name = ?');
    this.insQ = db.prepare(
      'INSERT INTO console_scenario (tenant, name, description, client_id, username, parameters, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.delQ = db.prepare('DELETE FROM console_scenario WHERE tenant = ? AND id = ?');
    this.launchedQ = db.prepare('UPDATE console_scenario SET last_launched_at = ? WHERE tenant = ? AND id = ?');
    this.purgeQ = db.prepare('DELETE FROM console_scenario WHERE tenant = ?');
  }

  async list(sandboxKey: number): Promise<Scenario[]> {
    return (this.listQ.all(sandboxKey) as ScenarioRow[]).map(toScenario);
  }

  async get(sandboxKey: number, id: number): Promise<Scenario | undefined> {
    const r = this.oneQ.get(sandboxKey, id) as ScenarioRow | undefined;
    return r && toScenario(r);
  }

  async create(sandboxKey: number, s: NewScenario): Promise<Scenario> {
    if (this.byNameQ.get(sandboxKey, s.name)) throw new ScenarioExists(`a scenario named "${s.name}" already exists`);
    const info = this.insQ.run(sandboxKey, s.name, s.description ?? null, s.clientId, s.username ?? null, JSON.stringify(s.parameters), Date.now());
    return (await this.get(sandboxKey, Number(info.lastInsertRowid)))!;
  }

  async delete(sandboxKey: number, id: number): Promise<boolean> {
    return this.delQ.run(sandboxKey, id).changes > 0;
  }

  async markLaunched(sandboxKey: number, id: number, at = Date.now()): Promise<void> {
    this.launchedQ.run(at, sandboxKey, id);
  }

  async purgeSandbox(sandboxKey: number): Promise<void> {
    this.purgeQ.run(sandboxKey);
  }
}
