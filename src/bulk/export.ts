/**
 * Runs one export: pages through the per-request repository's search (the same engine, the same access
 * conditions as `GET {iss}/Type?…` with the kick-off token — docs/architecture.md §6) and appends each page to
 * one NDJSON file per resource type (Bulk Data Access IG 2.0 §"Bulk Data Output File Request").
 *
 * - system level: every type the token may search (or `_type`), each filtered by `_typeFilter`;
 * - Patient / Group level: the compartment searches `Patient/{id}/{Type}` of each patient (all
 *   patients the token can see, the Group's members, narrowed by `patient`), de-duplicated per type;
 * - every page carries `_lastUpdated=le{transactionTime}` (IG: nothing modified after the manifest's
 *   transactionTime) and, with `_since`, `_lastUpdated=gt{_since}`.
 *
 * Every call into the repository is awaited, so that the async storage layer slots in unchanged.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { FileHandle } from 'node:fs/promises';
import { AUDIT_TYPE } from '../fhir/audit-events.js';
import { inPatientCompartment, resourceTypes } from '../fhir/definitions.js';
import type { FhirRepository } from '../fhir/repository.js';
import { MAX_COUNT } from '../fhir/search/parse.js';
import { renderResource } from '../fhir/search/results.js';
import type { ExportRequest } from './request.js';
import type { OutputFile } from './store.js';

export class ExportCancelled extends Error {}

export interface ExportHooks {
  /** Called after every page; returns false when the job was cancelled (the run stops). */
  progress(text: string): Promise<boolean> | boolean;
  /** Lets the event loop breathe between pages (inline runs); a no-op in a worker thread. */
  yieldTurn(): Promise<void>;
}

export interface ExportResult {
  files: OutputFile[];
  errors: OutputFile[];
}

const PAGE = MAX_COUNT;

/** Types in export order: `_type` as given, or every type the grant lets the client search. */
export function exportTypes(repo: FhirRepository, req: ExportRequest): string[] {
  if (req.types) return req.types;
  const all = [...resourceTypes()].filter((t) => t !== AUDIT_TYPE && (req.level === 'system' || inPatientCompartment(t))).sort();
  // Patient first, as clients usually load it first.
  all.sort((a, b) => (a === 'Patient' ? -1 : b === 'Patient' ? 1 : 0));
  return all.filter((t) => repo.policy.tryConstraint(t, 's') !== undefined);
}

/** The patients a Patient/Group export covers, in a stable order. */
export async function exportPatients(repo: FhirRepository, req: ExportRequest): Promise<string[]> {
  if (req.level === 'group') {
    const group = await repo.read('Group', req.groupId!);
    const members = groupMembers(group.content!);
    return req.patients ? members.filter((p) => req.patients!.includes(p)) : members;
  }
  if (req.patients) return req.patients;
  // Every Patient the token may search (a patient/ token: its own patient only).
  const ids: string[] = [];
  for (let offset = 0; ; offset += PAGE) {
    const r = await repo.search(['Patient'], [['_count', String(PAGE)], ['_offset', String(offset)]]);
    for (const m of r.matches) ids.push(m.id);
    if (!r.hasMore) break;
  }
  return ids;
}

/** Active Patient members of a Group (`member.entity` references; `inactive` members are skipped). */
export function groupMembers(content: string): string[] {
  const g = JSON.parse(content) as { member?: { entity?: { reference?: string }; inactive?: boolean }[] };
  const out: string[] = [];
  for (const m of g.member ?? []) {
    const ref = m.entity?.reference;
    const id = ref?.startsWith('Patient/') ? ref.slice('Patient/'.length) : undefined;
    if (id && !m.inactive && !out.includes(id)) out.push(id);
  }
  return out;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

class NdjsonFiles {
  private readonly open = new Map<string, { fh: FileHandle; count: number }>();
  constructor(private readonly dir: string) {}

  async append(type: string, lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    let f = this.open.get(type);
    if (!f) {
      f = { fh: await fs.promises.open(path.join(this.dir, `${type}.ndjson`), 'w'), count: 0 };
      this.open.set(type, f);
    }
    await f.fh.write(`${lines.join('\n')}\n`);
    f.count += lines.length;
  }

  async close(): Promise<OutputFile[]> {
    const out: OutputFile[] = [];
    for (const [type, f] of this.open) {
      await f.fh.close();
      out.push({ type, file: `${type}.ndjson`, count: f.count });
    }
    this.open.clear();
    return out;
  }
}

/**
 * Exports into `dir` (created empty). Access errors of the whole export (a Group the token cannot
 * read) propagate; per-type problems become OperationOutcome lines in the error file.
 */
export async function runExport(repo: FhirRepository, req: ExportRequest, transactionTime: number, dir: string, hooks: ExportHooks): Promise<ExportResult> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const files = new NdjsonFiles(dir);
  const outcomes: string[] = req.warnings.map((w) => JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'not-supported', diagnostics: w }] }));
  const window: [string, string][] = [['_lastUpdated', `le${iso(transactionTime)}`]];
  if (req.since !== undefined) window.push(['_lastUpdated', `gt${iso(req.since)}`]);
  const types = exportTypes(repo, req);
  let written = 0;
  let done = 0;
  let last = 0;
  const tick = async (what: string) => {
    // Progress (and the cancellation check that comes with it) at most every 200 ms: it is a write.
    const now = Date.now();
    if (now - last >= 200) {
      last = now;
      if (!(await hooks.progress(`${written} resources written; ${what} (${done}/${types.length} types done)`))) throw new ExportCancelled();
    }
    await hooks.yieldTurn();
  };

  /** All pages of one search, each written as it arrives; `seen` de-duplicates across searches. */
  const drain = async (type: string, filter: [string, string][], compartment: string | undefined, seen: Set<number> | undefined) => {
    for (let offset = 0; ; offset += PAGE) {
      const params: [string, string][] = [...filter, ...window, ['_count', String(PAGE)], ['_offset', String(offset)]];
      const r = await repo.search([type], params, { strict: true, ...(compartment !== undefined ? { compartment } : {}) });
      const lines: string[] = [];
      for (const m of r.matches) {
        if (seen) {
          if (seen.has(m.rid)) continue;
          seen.add(m.rid);
        }
        lines.push(req.elements ? renderResource(m.content, undefined, req.elements) : m.content);
      }
      await files.append(type, lines);
      written += lines.length;
      await tick(`exporting ${type}`);
      if (!r.hasMore) return;
    }
  };

  try {
    const patients = req.level === 'system' ? undefined : await exportPatients(repo, req);
    for (const type of types) {
      const filters = (req.typeFilters[type] ?? ['']).map((q) => [...new URLSearchParams(q)] as [string, string][]);
      // Several filters on one type are OR-ed (IG 2.0 `_typeFilter`): de-duplicate their union.
      const seen = patients !== undefined || filters.length > 1 ? new Set<number>() : undefined;
      for (const filter of filters) {
        if (patients === undefined) await drain(type, filter, undefined, seen);
        else for (const p of patients) await drain(type, filter, p, seen);
      }
      done++;
    }
  } catch (e) {
    await files.close();
    throw e;
  }
  const out = await files.close();
  const errors: OutputFile[] = [];
  if (outcomes.length) {
    await fs.promises.writeFile(path.join(dir, 'OperationOutcome.errors.ndjson'), `${outcomes.join('\n')}\n`);
    errors.push({ type: 'OperationOutcome', file: 'OperationOutcome.errors.ndjson', count: outcomes.length });
  }
  // Manifest order follows the export order of the types.
  out.sort((a, b) => types.indexOf(a.type) - types.indexOf(b.type));
  return { files: out, errors };
}
