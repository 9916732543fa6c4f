/** Device services of `nerves-hub-link run` (device.json keys `extensions`, `identify`, `console`, `archives`). */
export interface AgentServicesConfig {
  /** Health (on by default; `diskMount` is the file system reported) and geo (on by default). */
  extensions: { health: false | { diskMount?: string }; geo: boolean };
  /** Command run (no shell) when NervesHub asks the device to identify itself, e.g. blink an LED. */
  identify?: { argv: string[] };
  /** The remote console: off unless `enabled`. */
  console?: { timeoutSeconds?: number; uploadDir?: string; shell?: string[] };
  /** Archives: off unless configured. See {@link AgentArchivesConfig}. */
  archives?: AgentArchivesConfig;
}

/**
 * Archives of `nerves-hub-link run` (device.json key `archives`): every archive NervesHub offers is
 * downloaded into `dir`, verified with the archive keys, then handed to `command`.
 */
export interface AgentArchivesConfig {
  /** Where partial and verified archives are written (absolute; default `<stateDir>/archives`). */
  dir?: string;
  /** Run (no shell) with the verified archive's path as the last argument; without it the archive stays in `dir`. */
  command?: string[];
}

type Obj = Record<string, unknown>;
/** The AgentConfigError class (passed in: agent-config imports this file). */
type ErrorCtor = new (key: string, message: string) => Error;

/**
 * Validates the services keys of a parsed device.json: `extensions: {health: bool | {diskMount},
 * geo: bool}`, `identify: {argv}`, `console: {enabled, timeoutSeconds, uploadDir, shell}`.
 * @throws AgentConfigError naming the key at fault.
 * @internal
 */
export function parseAgentServices(c: Obj, resolvePath: (p: string) => string, Err: ErrorCtor): AgentServicesConfig {
  const obj = (v: unknown, key: string): Obj => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Err(key, 'must be an object');
    return v as Obj;
  };
  const known = (o: Obj, keys: string[], path: string): void => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) throw new Err(`${path}.${k}`, `is not a known key (known: ${keys.join(', ')})`);
  };
  const argv = (v: unknown, key: string): string[] => {
    if (!Array.isArray(v) || v.length === 0 || !v.every((s) => typeof s === 'string' && s !== '')) throw new Err(key, 'must be a non-empty list of strings, e.g. ["/usr/bin/blink-led"]');
    return v as string[];
  };
  const out: AgentServicesConfig = { extensions: { health: {}, geo: true } };
  if (c.extensions !== undefined) {
    const e = obj(c.extensions, 'extensions');
    known(e, ['health', 'geo'], 'extensions');
    if (e.health === false) out.extensions.health = false;
    else if (e.health !== undefined && e.health !== true) {
      const h = obj(e.health, 'extensions.health');
      known(h, ['diskMount'], 'extensions.health');
      if (h.diskMount !== undefined && (typeof h.diskMount !== 'string' || !h.diskMount.startsWith('/'))) throw new Err('extensions.health.diskMount', 'must be an absolute path, e.g. "/data"');
      out.extensions.health = h.diskMount !== undefined ? { diskMount: h.diskMount as string } : {};
    }
    if (e.geo !== undefined && typeof e.geo !== 'boolean') throw new Err('extensions.geo', 'must be true or false');
    out.extensions.geo = e.geo !== false;
  }
  if (c.identify !== undefined) {
    const i = obj(c.identify, 'identify');
    known(i, ['argv'], 'identify');
    out.identify = { argv: argv(i.argv, 'identify.argv') };
  }
  if (c.console !== undefined) {
    const k = obj(c.console, 'console');
    known(k, ['enabled', 'timeoutSeconds', 'uploadDir', 'shell'], 'console');
    if (typeof k.enabled !== 'boolean') throw new Err('console.enabled', 'must be true or false (the console is off unless true)');
    if (k.enabled) {
      const t = k.timeoutSeconds;
      if (t !== undefined && (typeof t !== 'number' || !(t > 0))) throw new Err('console.timeoutSeconds', 'must be a positive number of seconds');
      if (k.uploadDir !== undefined && (typeof k.uploadDir !== 'string' || k.uploadDir === '')) throw new Err('console.uploadDir', 'must be a directory path');
      out.console = {
        ...(t !== undefined ? { timeoutSeconds: t as number } : {}),
        ...(k.uploadDir !== undefined ? { uploadDir: resolvePath(k.uploadDir as string) } : {}),
        ...(k.shell !== undefined ? { shell: argv(k.shell, 'console.shell') } : {}),
      };
    }
  }
  return out;
}

/**
 * Validates the `archives` key of a parsed device.json: `{dir?, command?}`; undefined when absent.
 * @throws AgentConfigError naming the key at fault.
 * @internal
 */
export function parseAgentArchives(c: Obj, resolvePath: (p: string) => string, Err: ErrorCtor): AgentArchivesConfig | undefined {
  const a = c.archives;
  if (a === undefined) return undefined;
  if (typeof a !== 'object' || a === null || Array.isArray(a)) throw new Err('archives', 'must be an object, e.g. {"dir": "/data/archives", "command": ["/usr/bin/install-bundle"]}');
  const o = a as Obj;
  for (const k of Object.keys(o)) if (k !== 'dir' && k !== 'command') throw new Err(`archives.${k}`, 'is not a known key (known: dir, command)');
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir === '')) throw new Err('archives.dir', 'must be a directory path');
  const cmd = o.command;
  if (cmd !== undefined && (!Array.isArray(cmd) || cmd.length === 0 || !cmd.every((s) => typeof s === 'string' && s !== ''))) {
    throw new Err('archives.command', 'must be a non-empty list of strings, e.g. ["/usr/bin/install-bundle"] (the archive path is added as the last argument)');
  }
  return {
    ...(o.dir !== undefined ? { dir: resolvePath(o.dir as string) } : {}),
    ...(cmd !== undefined ? { command: cmd as string[] } : {}),
  };
}
