/** VCDIFF instruction types (RFC 3284 §5.5). */
export const VcdInstruction = Object.freeze({ noop: 0, add: 1, run: 2, copy: 3 });

/**
 * The default instruction code table of RFC 3284 §5.6, as six parallel arrays of 256 entries:
 * each code is one or two instructions (type, size — 0 means "read the size from the instruction
 * section" — and address mode for copies).
 */
export interface VcdCodeTable {
  type1: Uint8Array;
  size1: Uint8Array;
  mode1: Uint8Array;
  type2: Uint8Array;
  size2: Uint8Array;
  mode2: Uint8Array;
}

let table: VcdCodeTable | undefined;

/** Builds (once, on first use) the default code table. */
export function defaultCodeTable(): VcdCodeTable {
  if (table) return table;
  const t: VcdCodeTable = {
    type1: new Uint8Array(256),
    size1: new Uint8Array(256),
    mode1: new Uint8Array(256),
    type2: new Uint8Array(256),
    size2: new Uint8Array(256),
    mode2: new Uint8Array(256),
  };
  const { noop, add, run, copy } = VcdInstruction;
  let i = 0;
  const set = (t1: number, s1: number, m1: number, t2: number = noop, s2 = 0, m2 = 0): void => {
    t.type1[i] = t1;
    t.size1[i] = s1;
    t.mode1[i] = m1;
    t.type2[i] = t2;
    t.size2[i] = s2;
    t.mode2[i] = m2;
    i++;
  };
  set(run, 0, 0);
  for (let size = 0; size <= 17; size++) set(add, size, 0);
  for (let mode = 0; mode <= 8; mode++) {
    set(copy, 0, mode);
    for (let size = 4; size <= 18; size++) set(copy, size, mode);
  }
  for (let mode = 0; mode <= 5; mode++) {
    for (let addSize = 1; addSize <= 4; addSize++) for (let copySize = 4; copySize <= 6; copySize++) set(add, addSize, 0, copy, copySize, mode);
  }
  for (let mode = 6; mode <= 8; mode++) for (let addSize = 1; addSize <= 4; addSize++) set(add, addSize, 0, copy, 4, mode);
  for (let mode = 0; mode <= 8; mode++) set(copy, 4, mode, add, 1, 0);
  table = t;
  return t;
}
