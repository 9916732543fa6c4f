/**
 * Helpers for tests that run the `nerves-hub-link` CLI agent as a child process against a
 * NervesHubTestServer: a device directory with a device.json, and the child with its output.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessByStdio } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { NervesHubTestServer } from '../../src/testing/server/nerves-hub-test-server.js';

/** The repository root (the children's working directory). */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How a child ended and everything it wrote. */
export interface NodeExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A running node child: `exited` settles when it ends; `out()`/`err()` are its output so far. */
export interface NodeChild {
  child: ChildProcessByStdio<null, Readable, Readable>;
  exited: Promise<NodeExit>;
  out: () => string;
  err: () => string;
}

/** Options of {@link runNode}; `cleanup` gets a SIGKILL of the child for the test's afterEach. */
export interface RunNodeOptions {
  env?: NodeJS.ProcessEnv;
  /** SIGKILL after this long (default 30 s). */
  timeoutMs?: number;
  cleanup?: Array<() => void>;
}

/** Runs `node <args>` in the repository root and collects its output. */
export function runNode(args: string[], options: RunNodeOptions = {}): NodeChild {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  options.cleanup?.push(() => child.kill('SIGKILL'));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
  const exited = new Promise<NodeExit>((resolve) =>
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return { child, exited, out: () => stdout, err: () => stderr };
}

/** Runs the CLI (`src/cli/main.ts` through tsx) with `args`, as {@link runNode}. */
export function runCli(args: string[], options: RunNodeOptions = {}): NodeChild {
  return runNode(['--import', 'tsx', 'src/cli/main.ts', ...args], options);
}

/** The PEMs of an agent dir: cert.pem and key.pem are written when given, ca.pem always. */
export interface AgentCredentials {
  certPem?: string;
  keyPem?: string;
  serverCaPem: string;
}

/** Where {@link writeAgentDir} writes, what else it writes there, and who removes a fresh dir. */
export interface AgentDirOptions {
  /** mkdtemp prefix of a fresh dir (default `nhl-agent-`). */
  prefix?: string;
  /** An existing dir to write into instead (not removed). */
  dir?: string;
  /** More files, by name. */
  files?: Record<string, string | Uint8Array>;
  cleanup?: Array<() => void>;
}

/** An agent dir and its device.json. */
export interface AgentDir {
  dir: string;
  configPath: string;
}

/** Writes the PEMs, `files` and a device.json (certificate auth, ca.pem, stateDir "state"; `config` overrides) into a dir. */
export function writeAgentDir(credentials: AgentCredentials, config: Record<string, unknown>, options: AgentDirOptions = {}): AgentDir {
  let dir = options.dir;
  if (dir === undefined) {
    const fresh = mkdtempSync(join(tmpdir(), options.prefix ?? 'nhl-agent-'));
    options.cleanup?.push(() => rmSync(fresh, { recursive: true, force: true }));
    dir = fresh;
  }
  if (credentials.certPem !== undefined) writeFileSync(join(dir, 'cert.pem'), credentials.certPem);
  if (credentials.keyPem !== undefined) writeFileSync(join(dir, 'key.pem'), credentials.keyPem);
  writeFileSync(join(dir, 'ca.pem'), credentials.serverCaPem);
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);
  const configPath = join(dir, 'device.json');
  const defaults = { auth: { type: 'certificate', certFile: 'cert.pem', keyFile: 'key.pem' }, serverCaFile: 'ca.pem', stateDir: 'state' };
  writeFileSync(configPath, JSON.stringify({ ...defaults, ...config }));
  return { dir, configPath };
}

/** A device registered on the test server, with its agent dir. */
export interface RegisteredAgentDevice extends AgentDir {
  id: string;
  keyPem: string;
}

/** Issues a certificate for a new `<idPrefix>-xxxxxxxx` device on `server` and writes its agent dir (url: the server's). */
export async function registeredAgentDevice(
  server: NervesHubTestServer,
  idPrefix: string,
  config: Record<string, unknown>,
  options: AgentDirOptions = {},
): Promise<RegisteredAgentDevice> {
  const id = `${idPrefix}-${randomUUID().slice(0, 8)}`;
  const cert = await server.issueDeviceCertificate(id);
  const written = writeAgentDir({ certPem: cert.certPem, keyPem: cert.keyPem, serverCaPem: server.serverCaPem }, { url: server.url, ...config }, options);
  return { id, keyPem: cert.keyPem, ...written };
}
