import { open, readFile, stat } from 'node:fs/promises';
import { NervesHubError } from '../errors.js';

/**
 * Writes a new file with `mode`, refusing to replace an existing one (`O_EXCL`, like `fwup -g`).
 * @throws NervesHubError `NH_PROV_FILE_EXISTS` when `path` exists.
 * @internal
 */
export async function writeNewFile(path: string, data: string | Uint8Array, mode: number): Promise<void> {
  let handle;
  try {
    handle = await open(path, 'wx', mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new NervesHubError('NH_PROV_FILE_EXISTS', `'${path}' already exists: refusing to overwrite it (move it away or pick another name)`);
    }
    throw error;
  }
  try {
    await handle.writeFile(data);
    // open() applies the umask; a private file must be exactly `mode`.
    await handle.chmod(mode);
  } finally {
    await handle.close();
  }
}

/**
 * Refuses to create any of `paths` when one exists, so a pair is never half written.
 * @throws NervesHubError `NH_PROV_FILE_EXISTS`.
 * @internal
 */
export async function ensureAbsent(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (exists) throw new NervesHubError('NH_PROV_FILE_EXISTS', `'${path}' already exists: refusing to overwrite it (move it away or pick another name)`);
  }
}

/**
 * Reads a private key file after checking that only its owner can read it (like ssh does).
 * `inspect` sees the bytes before the mode check, so a wrong kind of file (a public key) is
 * reported as such rather than as a permissions problem.
 * @throws NervesHubError `NH_PROV_KEY_PERMISSIONS` for a group/other-readable file, `NH_PROV_KEY_INVALID` when unreadable.
 * @internal
 */
export async function readPrivateFile(path: string, what: string, inspect?: (bytes: Buffer) => void): Promise<Buffer> {
  let info;
  let bytes: Buffer;
  try {
    info = await stat(path);
    bytes = await readFile(path);
  } catch (error) {
    throw new NervesHubError('NH_PROV_KEY_INVALID', `cannot read the ${what} '${path}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
  inspect?.(bytes);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new NervesHubError(
      'NH_PROV_KEY_PERMISSIONS',
      `the ${what} '${path}' is readable by others (mode ${(info.mode & 0o777).toString(8).padStart(4, '0')}): run 'chmod 600 ${path}' and keep it private`,
    );
  }
  return bytes;
}
