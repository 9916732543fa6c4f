import { execFile } from 'node:child_process';
import { NervesHubError } from '../errors.js';
import type { Pkcs11Uri } from './pkcs11-uri.js';

/** Result of one `pkcs11-tool` run. @internal */
interface ToolResult {
  code: number;
  stdout: Buffer;
  stderr: string;
}

/** The env var the PIN travels in to pkcs11-tool (`--pin env:…`), never argv. */
const PIN_ENV = 'NHL_PKCS11_TOOL_PIN';

/** What a token looks like in `pkcs11-tool -L`. @internal */
export interface TokenInfo {
  label: string;
  manufacturer?: string;
  model?: string;
  serial?: string;
}

/** What an object looks like in `pkcs11-tool -O`. @internal */
export interface ObjectInfo {
  type: 'private' | 'public' | 'cert' | 'secret-key' | 'data';
  label?: string;
  idHex?: string;
}

/**
 * Runs opensc's `pkcs11-tool`. Chosen over a native addon: the TLS path needs none (the engine
 * signs), `opensc` is a stock distro package, and it is what provisioning scripts use anyway.
 * The PIN, when given, goes in an environment variable (`--pin env:…`), so `ps` never shows it.
 * @internal
 */
export function runPkcs11Tool(
  args: string[],
  options: { toolPath?: string; pin?: string; signal?: AbortSignal; timeoutMs?: number } = {},
): Promise<ToolResult> {
  const tool = options.toolPath ?? 'pkcs11-tool';
  const env = { ...process.env };
  const argv = [...args];
  if (options.pin !== undefined) {
    env[PIN_ENV] = options.pin;
    argv.push('--login', '--pin', `env:${PIN_ENV}`);
  }
  return new Promise((resolve, reject) => {
    execFile(
      tool,
      argv,
      { env, encoding: 'buffer', timeout: options.timeoutMs ?? 30_000, maxBuffer: 4 * 1024 * 1024, ...(options.signal ? { signal: options.signal } : {}) },
      (error, stdout, stderr) => {
        const err = error as (NodeJS.ErrnoException & { code?: string | number }) | null;
        if (err && err.code === 'ENOENT') {
          reject(new NervesHubError('NH_PKCS11_TOOL_MISSING', `${tool} is not installed: apt-get install opensc (or set pkcs11ToolPath)`));
          return;
        }
        if (err && err.name === 'AbortError') {
          reject(err);
          return;
        }
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout: Buffer.from(stdout), stderr: Buffer.from(stderr).toString('utf8') });
      },
    );
  });
}

/** Arguments that select the token a URI names (label first, else serial). @internal */
export function tokenArgs(uri: Pkcs11Uri): string[] {
  if (uri.token !== undefined) return ['--token-label', uri.token];
  if (uri.serial !== undefined) return ['--serial', uri.serial];
  return [];
}

/** Lists the tokens a module offers (`-L`). @throws NH_PKCS11_MODULE_MISSING when the module does not load. @internal */
export async function listTokens(modulePath: string, options: { toolPath?: string; signal?: AbortSignal } = {}): Promise<TokenInfo[]> {
  const r = await runPkcs11Tool(['--module', modulePath, '-L'], options);
  if (r.code !== 0 && /Failed to load pkcs11 module|sc_dlopen/i.test(r.stderr)) {
    throw new NervesHubError('NH_PKCS11_MODULE_MISSING', `the PKCS#11 module ${modulePath} does not load (${firstLine(r.stderr)}): check modulePath and that the module matches this CPU`);
  }
  const tokens: TokenInfo[] = [];
  let current: TokenInfo | undefined;
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const m = /^\s+(token label|token manufacturer|token model|serial num)\s*:\s*(.*?)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === 'token label') tokens.push((current = { label: m[2]! }));
    else if (current && m[1] === 'token manufacturer') current.manufacturer = m[2]!;
    else if (current && m[1] === 'token model') current.model = m[2]!;
    else if (current && m[1] === 'serial num') current.serial = m[2]!;
  }
  return tokens;
}

/** True when a token matches the URI's token attributes. @internal */
export function tokenMatches(t: TokenInfo, uri: Pkcs11Uri): boolean {
  return (
    (uri.token === undefined || t.label === uri.token) &&
    (uri.serial === undefined || t.serial === uri.serial) &&
    (uri.manufacturer === undefined || t.manufacturer === uri.manufacturer) &&
    (uri.model === undefined || t.model === uri.model)
  );
}

/** Lists the objects of the URI's token (`-O`), logged in when `pin` is given. @internal */
export async function listObjects(
  modulePath: string,
  uri: Pkcs11Uri,
  options: { toolPath?: string; pin?: string; signal?: AbortSignal } = {},
): Promise<{ objects: ObjectInfo[]; pinIncorrect: boolean; failure?: string }> {
  const r = await runPkcs11Tool(['--module', modulePath, ...tokenArgs(uri), '-O'], options);
  if (r.code !== 0) return { objects: [], pinIncorrect: /CKR_PIN_INCORRECT/.test(r.stderr), failure: firstLine(r.stderr) };
  const objects: ObjectInfo[] = [];
  let current: ObjectInfo | undefined;
  const kinds: Record<string, ObjectInfo['type']> = { 'Private Key': 'private', 'Public Key': 'public', Certificate: 'cert', 'Secret Key': 'secret-key', 'Data': 'data' };
  for (const line of r.stdout.toString('utf8').split('\n')) {
    const head = /^(Private Key|Public Key|Certificate|Secret Key|Data) Object/.exec(line);
    if (head) {
      objects.push((current = { type: kinds[head[1]!]! }));
      continue;
    }
    const attr = /^\s+(label|ID):\s*(.*?)\s*$/.exec(line);
    if (current && attr) {
      if (attr[1] === 'label') current.label = attr[2]!;
      else current.idHex = attr[2]!.toLowerCase();
    }
  }
  return { objects, pinIncorrect: false };
}

/** True when an object matches the URI's object attributes (ignoring `type` when `type` is given separately). @internal */
export function objectMatches(o: ObjectInfo, uri: Pkcs11Uri, type: ObjectInfo['type']): boolean {
  return (
    o.type === type &&
    (uri.object === undefined || o.label === uri.object) &&
    (uri.id === undefined || o.idHex === Buffer.from(uri.id).toString('hex'))
  );
}

/** Reads a certificate object (DER) from the token. @throws NH_PKCS11_OBJECT_NOT_FOUND / NH_PKCS11_TOOL_MISSING @internal */
export async function readCertificateObject(
  modulePath: string,
  uri: Pkcs11Uri,
  options: { toolPath?: string; signal?: AbortSignal } = {},
): Promise<Buffer> {
  const select = [...(uri.object !== undefined ? ['--label', uri.object] : []), ...(uri.id !== undefined ? ['--id', Buffer.from(uri.id).toString('hex')] : [])];
  const r = await runPkcs11Tool(['--module', modulePath, ...tokenArgs(uri), '--read-object', '--type', 'cert', ...select], options);
  // pkcs11-tool exits 0 even when it aborts; an empty stdout is the failure signal
  if (r.code !== 0 || r.stdout.length === 0) {
    throw new NervesHubError('NH_PKCS11_OBJECT_NOT_FOUND', `no certificate object matches ${describeSelect(uri)} (${firstLine(r.stderr) || 'pkcs11-tool returned nothing'})`);
  }
  return r.stdout;
}

function describeSelect(uri: Pkcs11Uri): string {
  return [uri.object !== undefined ? `label "${uri.object}"` : '', uri.id !== undefined ? `id ${Buffer.from(uri.id).toString('hex')}` : '', uri.token !== undefined ? `on token "${uri.token}"` : '']
    .filter(Boolean)
    .join(' ');
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
}
