/**
 * The typed search expression: the parser turns query parameters into this
 * tree, access control rewrites it (compartment and scope restrictions are just more nodes), and
 * one SQL builder (sql.ts) compiles it.
 */
export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

/** A date search value as an inclusive epoch-ms range given by its precision. */
export interface DatePred {
  op: Prefix;
  lo: number;
  hi: number;
}

/** A number: the value and the range its significant digits imply (R4 §3.1.1.4.2). */
export interface NumPred {
  op: Prefix;
  value: number;
  lo: number;
  hi: number;
  system?: string;
  code?: string;
}

export interface TokenVal {
  system?: string | null;
  code?: string;
}

export interface RefVal {
  type?: string;
  id?: string;
  url?: string;
}

export interface CompositeVal {
  c1: TokenVal;
  c2: { kind: 'quantity' | 'number'; pred: NumPred } | { kind: 'token'; tok: TokenVal } | { kind: 'date'; pred: DatePred } | { kind: 'string'; value: string };
}

export type Cond =
  | { k: 'and'; items: Cond[] }
  | { k: 'or'; items: Cond[] }
  | { k: 'not'; item: Cond }
  | { k: 'false' }
  | { k: 'id'; ids: string[] }
  | { k: 'lastUpdated'; preds: DatePred[] }
  | { k: 'token'; pid: number; alts: TokenVal[] }
  | { k: 'tokenText'; pid: number; texts: string[] }
  | { k: 'string'; pid: number; mode: 'prefix' | 'exact' | 'contains'; values: string[] }
  | { k: 'date'; pid: number; preds: DatePred[] }
  | { k: 'number'; pid: number; preds: NumPred[] }
  | { k: 'quantity'; pid: number; preds: NumPred[] }
  | { k: 'uri'; pid: number; mode: 'eq' | 'below' | 'above'; values: string[] }
  | { k: 'ref'; pid: number; alts: RefVal[] }
  | { k: 'refIdentifier'; pid: number; alts: TokenVal[] }
  | { k: 'composite'; pid: number; alts: CompositeVal[] }
  | { k: 'missing'; table: string; pid: number; missing: boolean }
  /** Reference `pid` points at a `targetType` resource satisfying `inner`. */
  | { k: 'chain'; pid: number; targetType: string; inner: Cond }
  /** Some `srcType` resource satisfying `inner` points here through its reference `pid`. */
  | { k: 'has'; pid: number; srcType: string; inner: Cond }
  | { k: 'compartment'; patient: string };

export const TRUE: Cond = { k: 'and', items: [] };
export const FALSE: Cond = { k: 'false' };

export function and(...items: Cond[]): Cond {
  const flat: Cond[] = [];
  for (const c of items) {
    if (c.k === 'and') flat.push(...c.items);
    else flat.push(c);
  }
  if (flat.some((c) => c.k === 'false')) return FALSE;
  return flat.length === 1 ? flat[0] : { k: 'and', items: flat };
}

export function or(...items: Cond[]): Cond {
  const live = items.filter((c) => c.k !== 'false');
  if (live.length === 0) return FALSE;
  if (live.some((c) => c.k === 'and' && c.items.length === 0)) return TRUE;
  return live.length === 1 ? live[0] : { k: 'or', items: live };
}
