/** A parsed `Content-Range` header of a 206 (`bytes S-E/T`) or 416 (`bytes * /T`) answer. */
export interface ContentRange {
  /** First byte, absent for the unsatisfied form. */
  start?: number;
  /** Last byte (inclusive), absent for the unsatisfied form. */
  end?: number;
  /** Full size, absent when the server sent `*`. */
  total?: number;
}

/** Parses `Content-Range`; `undefined` when missing or malformed. */
export function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const ranged = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i.exec(value.trim());
  if (ranged) {
    const start = Number(ranged[1]);
    const end = Number(ranged[2]);
    if (end < start) return undefined;
    return { start, end, ...(ranged[3] === '*' ? {} : { total: Number(ranged[3]) }) };
  }
  const unsatisfied = /^bytes\s+\*\/(\d+)$/i.exec(value.trim());
  if (unsatisfied) return { total: Number(unsatisfied[1]) };
  return undefined;
}

/** `Content-Length` as a number, when present and valid. */
export function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}
