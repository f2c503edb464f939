/**
 * Token search ignores the case of codes in code systems whose codes are case-insensitive (R4
 * §3.1.1.4.10 token: "the matching is case-insensitive where the code system is case-insensitive").
 * We treat as such only the systems that say so themselves:
 * - LOINC (`http://loinc.org`): "LOINC codes are not case sensitive" (FHIR "Using LOINC"), and the
 *   LOINC CodeSystem fragments of the LIVD IG fix `caseSensitive` to false.
 * Everything else is case-sensitive: UCUM distinguishes `mg` from `Mg`, HL7 terminology code
 * systems default to `caseSensitive: true` (ICD-10 and ICD-10-CM included), SNOMED CT ids are digits.
 *
 * The index keeps codes as written, so a case-insensitive match is `code IN (every spelling)`, which
 * stays an index look-up; LOINC codes carry at most a few letters (`LP1234-5`, `LA6576-8`).
 */
export const CASE_INSENSITIVE_SYSTEMS: ReadonlySet<string> = new Set(['http://loinc.org']);

/** Above this many letters, only the code as given and its upper- and lower-case forms are tried. */
const MAX_VARIANT_LETTERS = 8;

/** The spellings of `code` that equal it ignoring case, when `system` is case-insensitive. */
export function codeSpellings(system: string | null | undefined, code: string): string[] {
  if (!system || !CASE_INSENSITIVE_SYSTEMS.has(system)) return [code];
  const letters = [...code].filter((c) => c.toLowerCase() !== c.toUpperCase()).length;
  if (letters === 0) return [code];
  if (letters > MAX_VARIANT_LETTERS) return [...new Set([code, code.toUpperCase(), code.toLowerCase()])];
  let out = [''];
  for (const c of code) {
    const lo = c.toLowerCase();
    const up = c.toUpperCase();
    out = lo === up ? out.map((p) => p + c) : out.flatMap((p) => [p + lo, p + up]);
  }
  return out;
}
