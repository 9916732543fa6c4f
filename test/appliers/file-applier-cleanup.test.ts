import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileApplier } from '../../src/update/appliers/file-applier.js';
import { alive, chunks, context, fixture } from './helpers.js';

/**
 * A process killed while FileApplier writes leaves its temporary file (`.<name>.<pid>-<hex>.tmp`)
 * next to the target. The next `apply` (the natural point: the applier owns those names only
 * while it writes, and construction does no I/O) removes such leftovers first; so does
 * `removeStaleTemporaryFiles()`, which an app may call at start-up.
 */
const CHILD = join(import.meta.dirname, 'fixtures', 'file-apply-child.mts');

let dir: string;
let target: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nhl-file-cleanup-'));
  target = join(dir, 'next.fw');
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** The pid of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '']);
  expect(alive(r.pid!)).toBe(false);
  return r.pid!;
}

function touch(name: string, content = 'x'): void {
  writeFileSync(join(dir, name), content);
}

describe('FileApplier: stale temporary files', () => {
  it('SIGKILL mid-write leaves a temp file; the next apply removes it and writes the target', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify({ target, bytes: 3 * 1024 * 1024 })], {
      cwd: join(import.meta.dirname, '..', '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      child.stdout.on('data', (d: Buffer) => void (out += d.toString('utf8')));
      const temps = (): string[] => readdirSync(dir).filter((n) => n.startsWith('.next.fw.'));
      await expect.poll(() => out.includes('"writing"') && temps().length === 1 && statSync(join(dir, temps()[0]!)).size > 0, { timeout: 20_000, interval: 20 }).toBe(true);
      const [leftover] = temps();
      expect(leftover).toMatch(new RegExp(`^\\.next\\.fw\\.(${child.pid}-)?[0-9a-f]{12}\\.tmp$`));
      const exited = new Promise((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      expect(existsSync(join(dir, leftover!))).toBe(true); // the killed process could not clean up

      const archive = fixture('signed.fw');
      await new FileApplier({ path: target }).apply(chunks(archive, 4096), context());
      expect(readdirSync(dir)).toEqual(['next.fw']);
      expect(readFileSync(target).equals(archive)).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('removes only its own stale names next to its own target; unrelated and live files stay', async () => {
    const dead = deadPid();
    const stale = [
      `.next.fw.${dead}-0123456789ab.tmp`, // a killed process
      '.next.fw.0123456789ab.tmp', // written before the pid was in the name
      `.next.fw.${process.pid}-aaaaaaaaaaaa.tmp`, // our pid, not being written: a process before a reboot had it
    ];
    const kept = [
      `.next.fw.${process.ppid}-0123456789ab.tmp`, // a process that still runs
      `.other.fw.${dead}-0123456789ab.tmp`, // another target's
      '.next.fw.0123456789ab.tmp.keep',
      'next.fw.0123456789ab.tmp', // no leading dot
      '.next.fw.0123456789AB.tmp', // not our hex
      '.next.fw.xyz.tmp',
      '.next.fw.tmp',
      'previous.img',
    ];
    for (const name of [...stale, ...kept]) touch(name);
    mkdirSync(join(dir, 'sub'));
    writeFileSync(join(dir, 'sub', stale[0]!), 'elsewhere'); // same name, another directory
    const before = readFileSync(join(dir, 'previous.img'));

    const archive = fixture('signed.fw');
    await new FileApplier({ path: target }).apply(chunks(archive, 1000), context());

    expect(readdirSync(dir).sort()).toEqual([...kept, 'next.fw', 'sub'].sort());
    expect(readdirSync(join(dir, 'sub'))).toEqual([stale[0]]);
    expect(readFileSync(join(dir, 'previous.img')).equals(before)).toBe(true);
    expect(readFileSync(target).equals(archive)).toBe(true);
  });

  it('never removes the temp file of an apply running in this process; removeStaleTemporaryFiles() works on its own', async () => {
    const archive = fixture('signed.fw');
    const controller = new AbortController();
    const running = new FileApplier({ path: target }).apply(chunks(archive, 1000, { stallAfter: 2000 }), context({ signal: controller.signal }));
    await expect.poll(() => readdirSync(dir).filter((n) => n.endsWith('.tmp')).length, { timeout: 5000, interval: 10 }).toBe(1);
    const [inFlight] = readdirSync(dir).filter((n) => n.endsWith('.tmp'));
    const stale = `.next.fw.${deadPid()}-0123456789ab.tmp`;
    touch(stale);

    expect(await new FileApplier({ path: target }).removeStaleTemporaryFiles()).toEqual([stale]);
    expect(readdirSync(dir)).toEqual([inFlight]);
    controller.abort(new Error('test over'));
    await expect(running).rejects.toMatchObject({ code: 'NH_APPLY_ABORTED' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a target whose name has regex characters matches only itself', async () => {
    const odd = join(dir, 'fw+(1).img');
    const dead = deadPid();
    touch(`.fw+(1).img.${dead}-0123456789ab.tmp`);
    touch(`.fw+1.img.${dead}-0123456789ab.tmp`);
    touch(`.fwwww(1).img.${dead}-0123456789ab.tmp`);
    expect(await new FileApplier({ path: odd }).removeStaleTemporaryFiles()).toEqual([`.fw+(1).img.${dead}-0123456789ab.tmp`]);
    expect(await new FileApplier({ path: join(dir, 'missing-dir', 'x.img') }).removeStaleTemporaryFiles()).toEqual([]);
  });
});
