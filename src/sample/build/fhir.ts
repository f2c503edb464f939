/** Small constructors for FHIR datatypes used by every builder. */
import type { CodeableConcept, Coding, Quantity, Reference } from '@medplum/fhirtypes';
import { SYS } from '../vocab/codes.js';

export const DAY_MS = 86_400_000;
export const YEAR_MS = 365.25 * DAY_MS;

/** FHIR dateTime/instant in UTC with seconds and no milliseconds, e.g. `2024-05-01T09:30:00Z`. */
export function dateTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** FHIR date, e.g. `1984-07-12`. */
export function date(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function coding(system: string, code: string, display: string): Coding {
  return { system, code, display };
}

export function concept(system: string, code: string, display: string, text = display): CodeableConcept {
  return { coding: [{ system, code, display }], text };
}

/** A UCUM quantity; the UCUM code doubles as the displayed unit, as in the spec's vital-signs examples. */
export function ucum(value: number, unit: string): Quantity {
  return { value, unit, system: SYS.ucum, code: unit };
}

/** A literal reference `Type/id`. Typed loosely: Medplum's Reference<T> targets differ per element. */
export type Ref = Reference<any>;

export function ref(type: string, id: string, display?: string): Ref {
  return display === undefined ? { reference: `${type}/${id}` } : { reference: `${type}/${id}`, display };
}

export function round(value: number, decimals: number): number {
  const f = 10 ** decimals;
  return Math.round(value * f) / f;
}

/**
 * The fixed "now" of all generated data (2025-06-01T00:00:00Z): ages and visit dates are computed
 * from it rather than from the clock, so the same call always returns the same resources.
 */
export const SAMPLE_NOW_MS = Date.UTC(2025, 5, 1);
