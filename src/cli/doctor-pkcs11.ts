/**
 * `doctor`'s PKCS#11 steps (module, token, pin, object, engine), run only for
 * `auth.type: "pkcs11"`. They use `pkcs11-tool` (opensc) so each piece is checked on its own,
 * before the engine path that TLS uses.
 */
import { existsSync } from 'node:fs';
import { NervesHubError } from '../errors.js';
import type { AgentConfig } from './agent-config.js';

type Pkcs11Auth = Extract<AgentConfig['auth'], { type: 'pkcs11' }>;

/** The PKCS#11 steps, in order. */
export const PKCS11_DOCTOR_STEPS = ['module', 'token', 'pin', 'object', 'engine'] as const;

/** Fixes for doctor's output, by code. */
export const PKCS11_FIXES: Readonly<Record<string, string>> = Object.freeze({
  NH_PKCS11_URI_INVALID: 'fix auth.uri, e.g. pkcs11:token=dev;object=device-key;type=private',
  NH_PKCS11_ENGINE_MISSING: 'apt-get install libengine-pkcs11-openssl',
  NH_PKCS11_MODULE_MISSING: 'install the token\'s PKCS#11 module (SoftHSM2: apt-get install softhsm2) or fix auth.modulePath',
  NH_PKCS11_ENGINE_NOT_REGISTERED: 'start Node with --openssl-config=<stateDir>/openssl-pkcs11.cnf (the nerves-hub-link CLI does this itself)',
  NH_PKCS11_TOKEN_NOT_FOUND: 'check the token label in auth.uri (pkcs11-tool --module <modulePath> -L) and that the token is present and initialized',
  NH_PKCS11_OBJECT_NOT_FOUND: 'check object=/id= in auth.uri against pkcs11-tool --module <modulePath> --token-label <token> --login -O',
  NH_PKCS11_PIN_UNAVAILABLE: 'set the PIN in auth.pinEnv\'s environment variable or auth.pinFile',
  NH_PKCS11_TOOL_MISSING: 'apt-get install opensc (pkcs11-tool)',
  NH_PKCS11_CERT: 'reissue auth.certFile for the token\'s public key (pkcs11-tool --read-object --type pubkey)',
  NH_PKCS11_KEY_LOAD: 'see the detail; check the token with pkcs11-tool',
});

/** Loads the pkcs11 entry lazily (only pkcs11 configs pay for it). */
async function lib() {
  const [tool, uri, pin] = await Promise.all([import('../pkcs11/pkcs11-tool.js'), import('../pkcs11/pkcs11-uri.js'), import('../pkcs11/pin-source.js')]);
  return { ...tool, ...uri, ...pin };
}

function pinFix(auth: Pkcs11Auth): string {
  return auth.pinEnv ? `fix the PIN in the environment variable ${auth.pinEnv}` : auth.pinFile ? `fix the PIN in ${auth.pinFile}` : 'set auth.pinEnv or auth.pinFile';
}

/** The fix for a PIN failure of this config (it names the source, never the PIN). */
export function pkcs11PinFix(config: AgentConfig): string | undefined {
  return config.auth.type === 'pkcs11' ? pinFix(config.auth) : undefined;
}

/** Runs one PKCS#11 step; returns the pass detail or throws a typed error. */
export async function pkcs11Step(name: (typeof PKCS11_DOCTOR_STEPS)[number], auth: Pkcs11Auth): Promise<string> {
  const l = await lib();
  const uri = l.parsePkcs11Uri(auth.uri);
  switch (name) {
    case 'module': {
      if (!existsSync(auth.modulePath)) throw new NervesHubError('NH_PKCS11_MODULE_MISSING', `the PKCS#11 module ${auth.modulePath} does not exist`);
      const tokens = await l.listTokens(auth.modulePath);
      return `${auth.modulePath} loads; ${tokens.length} token${tokens.length === 1 ? '' : 's'}: ${tokens.map((t) => `"${t.label}"`).join(', ') || 'none'}`;
    }
    case 'token': {
      const tokens = await l.listTokens(auth.modulePath);
      const t = tokens.find((x) => l.tokenMatches(x, uri));
      if (!t) throw new NervesHubError('NH_PKCS11_TOKEN_NOT_FOUND', `no token matches ${l.describePkcs11Object(uri)} (tokens: ${tokens.map((x) => `"${x.label}"`).join(', ') || 'none'})`);
      return `token "${t.label}"${t.serial ? ` (serial ${t.serial})` : ''}`;
    }
    case 'pin': {
      const pin = await l.readPin(auth);
      if (pin === undefined) return 'no PIN configured (the token must not need a login)';
      const r = await l.listObjects(auth.modulePath, uri, { pin });
      if (r.pinIncorrect) throw new NervesHubError('NH_PKCS11_PIN_INCORRECT', `the token refused the PIN from ${auth.pinEnv ? `environment variable ${auth.pinEnv}` : `file ${auth.pinFile}`}`);
      if (r.failure !== undefined) throw new NervesHubError('NH_PKCS11_KEY_LOAD', `login failed: ${r.failure}`);
      return `login with the PIN from ${auth.pinEnv ? `environment variable ${auth.pinEnv}` : `file ${auth.pinFile}`} accepted`;
    }
    case 'object': {
      const pin = await l.readPin(auth);
      const r = await l.listObjects(auth.modulePath, uri, pin === undefined ? {} : { pin });
      const keys = r.objects.filter((o) => o.type === 'private');
      const key = keys.find((o) => l.objectMatches(o, uri, 'private'));
      if (!key) {
        const seen = keys.map((o) => `"${o.label ?? ''}"${o.idHex ? ` (id ${o.idHex})` : ''}`).join(', ') || 'none';
        throw new NervesHubError('NH_PKCS11_OBJECT_NOT_FOUND', `no private key ${l.describePkcs11Object({ ...uri, type: 'private' })} (private keys on the token: ${seen})`);
      }
      return `private key "${key.label ?? ''}"${key.idHex ? ` (id ${key.idHex})` : ''}`;
    }
    case 'engine':
      // done by the caller: it builds the agent's provider and loads the key through the engine
      return '';
  }
}
