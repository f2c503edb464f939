/**
 * The 20-hit patient search (issue #3): `Observation?patient=<id>&_count=20` through the open base
 * of the running bench server, on a demo patient with at least 20 observations. Target ≥ 2,000
 * req/s, p99 ≤ 50 ms on 2 cores (Medplum measured 0.5k req/s, p99 190 ms on the same kind of machine).
 */
import { cannon, type Result, type Server } from './harness.js';

interface SearchBundle {
  total?: number;
  entry?: { resource: { id: string } }[];
}

async function getJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} ${await r.text()}`);
  return (await r.json()) as T;
}

/** The first demo patient (by id) with at least `n` observations. */
export async function patientWithObservations(base: string, n: number): Promise<string> {
  const patients = await getJson<SearchBundle>(`${base}/Patient?_count=200&_sort=_id&_elements=id`);
  for (const e of patients.entry ?? []) {
    const c = await getJson<SearchBundle>(`${base}/Observation?patient=${encodeURIComponent(e.resource.id)}&_summary=count`);
    if ((c.total ?? 0) >= n) return e.resource.id;
  }
  throw new Error(`no demo patient has ${n} observations`);
}

export async function benchSearch(results: Result[], server: Server): Promise<void> {
  const base = `${server.url}/demo/open`;
  const id = await patientWithObservations(base, 20);
  const url = `${base}/Observation?patient=${encodeURIComponent(id)}&_count=20`;
  const page = await getJson<SearchBundle>(url);
  if (page.entry?.length !== 20) throw new Error(`${url} returned ${page.entry?.length ?? 0} entries, expected 20`);
  results.push(await cannon(`FHIR search Observation?patient=${id}&_count=20 (20 hits, open base)`, url, {}, { target: '≥ 2,000 req/s, p99 ≤ 50 ms' }));
}
