/**
 * Checks that the PEM/DER files a `device.json` names hold what their key says: a certificate
 * where a certificate belongs, a private key where the key belongs. Swapped `certFile` and
 * `keyFile` are a common first-hour mistake whose TLS error names neither file. Messages name the
 * file and never quote its content.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { AgentConfig } from './agent-config.js';
import type { ConfigProblem } from './config-problems.js';

/** What a credentials file holds. */
type FileKind = 'certificate' | 'private key' | 'both' | 'unknown';

function classifyPem(text: string): FileKind {
  const labels = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----/g)].map((m) => m[1]!);
  const cert = labels.some((l) => l === 'CERTIFICATE' || l === 'TRUSTED CERTIFICATE' || l === 'X509 CERTIFICATE');
  const key = labels.some((l) => l.endsWith('PRIVATE KEY'));
  return cert && key ? 'both' : cert ? 'certificate' : key ? 'private key' : 'unknown';
}

function classifyDer(bytes: Buffer): FileKind {
  try {
    new X509Certificate(bytes);
    return 'certificate';
  } catch {
    // not a certificate; maybe a key
  }
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      createPrivateKey({ key: bytes, format: 'der', type });
      return 'private key';
    } catch {
      // try the next DER flavour
    }
  }
  return 'unknown';
}

/** What `path` holds, or undefined when it cannot be read (later steps report that with its reason). */
async function classifyFile(path: string): Promise<FileKind | undefined> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    return undefined;
  }
  return bytes.length > 1 && bytes[0] === 0x30 ? classifyDer(bytes) : classifyPem(bytes.toString('latin1'));
}

/** Files whose content must be a certificate or a key, with the key naming them. */
function expectations(config: AgentConfig): Array<{ key: string; path: string; want: 'certificate' | 'private key' }> {
  const list: Array<{ key: string; path: string; want: 'certificate' | 'private key' }> = [];
  const auth = config.auth;
  if (auth.type === 'certificate') {
    list.push({ key: 'auth.certFile', path: auth.certFile, want: 'certificate' }, { key: 'auth.keyFile', path: auth.keyFile, want: 'private key' });
    if (auth.signerCertFile) list.push({ key: 'auth.signerCertFile', path: auth.signerCertFile, want: 'certificate' });
  } else if (auth.type === 'pkcs11') {
    list.push({ key: 'auth.certFile', path: auth.certFile, want: 'certificate' });
  }
  if (config.serverCaFile) list.push({ key: 'serverCaFile', path: config.serverCaFile, want: 'certificate' });
  return list;
}

/**
 * Returns one problem per file that holds the wrong kind of thing (a certificate in `keyFile`, a
 * private key in `certFile` or `serverCaFile`). Unreadable files are left to the steps that use them.
 */
export async function checkConfigFiles(config: AgentConfig): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const checks = expectations(config);
  const kinds = await Promise.all(checks.map((c) => classifyFile(c.path)));
  checks.forEach((check, i) => {
    const kind = kinds[i];
    if (kind === undefined || kind === 'unknown' || kind === 'both' || kind === check.want) return;
    const swapped = check.key === 'auth.keyFile' || check.key === 'auth.certFile' ? ' (are certFile and keyFile swapped?)' : '';
    problems.push({ key: check.key, message: `${check.path} holds a ${kind}, not a ${check.want}${swapped}` });
  });
  return problems;
}
