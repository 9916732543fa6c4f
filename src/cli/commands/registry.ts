/** A subcommand module: `run` gets the arguments after the command name and returns the exit code. */
export interface CommandModule {
  run(argv: string[]): Promise<number>;
}

/** A registered subcommand, loaded on demand so `--help` and other commands stay fast. */
export interface CommandEntry {
  summary: string;
  load(): Promise<CommandModule>;
}

/** Subcommands by name. Add new ones here (one module per command in this folder). */
export const COMMANDS: Readonly<Record<string, CommandEntry>> = Object.freeze({
  verify: { summary: 'verify a firmware archive (.fw) like fwup -V', load: () => import('./verify.js') },
  metadata: { summary: "print a firmware archive's metadata like fwup -m", load: () => import('./metadata.js') },
  run: { summary: 'run the SDK as a standalone update agent (--config device.json)', load: () => import('./run.js') },
  doctor: { summary: 'check step by step that the device can reach NervesHub', load: () => import('./doctor.js') },
  demo: { summary: 'a complete firmware update on this machine, in seconds', load: () => import('./demo.js') },
  keys: { summary: 'create or show fwup firmware signing keys (like fwup -g)', load: () => import('./keys.js') },
  firmware: { summary: 'sign a firmware archive (.fw) like fwup -S', load: () => import('./firmware.js') },
  cert: { summary: 'create a signer CA, device certificates, or a CSR for a key in an HSM', load: () => import('./cert.js') },
});
