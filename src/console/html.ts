/**
 * A tiny HTML template helper: every interpolated value is escaped unless it is already `Html`
 * (produced by this helper). User-supplied text (patient names, app names, scenario names, error
 * messages) therefore cannot inject markup; there is no way to mark a string as trusted except by
 * building it with `html` itself (issue 6 "Security of what it shows").
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
}

type Value = Html | string | number | boolean | undefined | null | readonly Value[];

function render(v: Value): string {
  if (v === undefined || v === null || v === false) return '';
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += render(values[i]) + strings[i + 1];
  return new Html(out);
}

/** Joins fragments (each escaped unless already Html). */
export function join(parts: readonly Value[]): Html {
  return new Html(parts.map(render).join(''));
}
