// Writes `size` bytes of random data to `path` (incompressible, like a squashfs rootfs image).
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { randomFillSync } from 'node:crypto';

export async function writeRandomFile(path, size) {
  const out = createWriteStream(path);
  const block = Buffer.alloc(4 * 1024 * 1024);
  for (let written = 0; written < size; written += block.length) {
    randomFillSync(block);
    if (!out.write(Buffer.from(block.subarray(0, Math.min(block.length, size - written))))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}
