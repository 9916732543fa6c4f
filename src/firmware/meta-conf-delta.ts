import type { ConfStatement } from './meta-conf-syntax.js';

/** fwup's block size: delta-source offsets and counts are in 512-byte blocks. */
export const FWUP_BLOCK_BYTES = 512;

/**
 * Where fwup reads the old bytes a delta resource is patched against, as one task's
 * `on-resource` declares it (fwup_apply.c: `delta-source-raw-offset` + `delta-source-raw-count` > 0,
 * or `delta-source-fat-offset` + `delta-source-fat-path`).
 */
export type MetaConfDeltaSource =
  | {
      /** The task whose `on-resource` declares it. */
      task: string;
      /** A raw block range of the device. */
      kind: 'raw';
      /** First block (512 bytes each). */
      offsetBlocks: number;
      /** Number of blocks (> 0). */
      countBlocks: number;
    }
  | {
      /** The task whose `on-resource` declares it. */
      task: string;
      /** A file inside a FAT file system of the device. */
      kind: 'fat';
      /** Block offset of the FAT file system. */
      offsetBlocks: number;
      /** Path of the file in it. */
      path: string;
    };

function valueOf(body: readonly ConfStatement[], name: string): string | undefined {
  let value: string | undefined;
  for (const s of body) if (s.kind === 'assign' && s.name === name && s.values.length === 1) value = s.values[0]!.value;
  return value;
}

/** A non-negative integer as C `strtoul(s, NULL, 0)` would read a well-formed one; else undefined. */
function blocks(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const t = text.trim();
  let n: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) n = Number.parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) n = t.length > 1 ? Number.parseInt(t.slice(1), 8) : 0;
  else if (/^[1-9][0-9]*$/.test(t)) n = Number(t);
  else return undefined;
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * The delta sources meta.conf declares, by resource name, one entry per task that declares one
 * (a malformed or incomplete declaration counts as none, so such a delta is refused).
 *
 * @param statements - the parsed top-level statements of meta.conf
 */
export function readDeltaSources(statements: readonly ConfStatement[]): Map<string, MetaConfDeltaSource[]> {
  const sources = new Map<string, MetaConfDeltaSource[]>();
  for (const task of statements) {
    if (task.kind !== 'section' || task.name !== 'task') continue;
    const taskName = task.title?.value ?? '';
    for (const on of task.body) {
      if (on.kind !== 'section' || on.name !== 'on-resource' || on.title === undefined) continue;
      const rawOffset = blocks(valueOf(on.body, 'delta-source-raw-offset'));
      const rawCount = blocks(valueOf(on.body, 'delta-source-raw-count'));
      const fatOffset = blocks(valueOf(on.body, 'delta-source-fat-offset'));
      const fatPath = valueOf(on.body, 'delta-source-fat-path');
      let source: MetaConfDeltaSource | undefined;
      if (rawOffset !== undefined && rawCount !== undefined && rawCount > 0) {
        source = { task: taskName, kind: 'raw', offsetBlocks: rawOffset, countBlocks: rawCount };
      } else if (fatOffset !== undefined && fatPath !== undefined && fatPath !== '') {
        source = { task: taskName, kind: 'fat', offsetBlocks: fatOffset, path: fatPath };
      }
      if (source === undefined) continue;
      const list = sources.get(on.title.value) ?? [];
      list.push(source);
      sources.set(on.title.value, list);
    }
  }
  return sources;
}
