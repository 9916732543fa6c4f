/**
 * The DeviceSocket `connect` decision of nerves_hub_web: a TLS client certificate wins; otherwise
 * any `x-*` header means shared-secret auth; otherwise `:no_auth`.
 */
import type { IncomingMessage } from 'node:http';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import type { Nh1Rejection, SharedSecretCredential } from './nh1-verifier.js';
import { verifyNh1Headers } from './nh1-verifier.js';
import type { AuthMethod } from './types.js';

/** Text of nerves_hub_web's `nh-connection-error-reason` for a request without any credentials. */
export const NO_AUTH_REASON = 'no certificate pair or shared secrets connection settings were provided';
/** Text of nerves_hub_web's `nh-connection-error-reason` for `:platform_unavailable`. */
export const PLATFORM_UNAVAILABLE_REASON = 'the platform could not be reached to authenticate this device';

/** Result of {@link authenticateUpgrade}. */
export type AuthDecision =
  | { readonly ok: true; readonly identifier: string; readonly method: AuthMethod; readonly newDevice: boolean }
  | { readonly ok: false; readonly method?: AuthMethod; readonly refusal: 'no_auth' | CertificateRefusal | Nh1Rejection };

/** Why a (TLS-verified) client certificate is not accepted as a device. */
export type CertificateRefusal = 'unknown_ca' | 'missing_common_name' | 'device_not_registered';

/** What the decision needs from the server state. */
export interface AuthContext {
  readonly nowMs: number;
  readonly autoRegister: boolean;
  readonly sharedSecretsEnabled: boolean;
  readonly maxAgeSeconds: number;
  isRegistered(identifier: string): boolean;
  credential(key: string): SharedSecretCredential | undefined;
}

/** The client certificate of a TLS socket, or undefined when none was sent. */
export function peerCertificateOf(socket: TLSSocket): PeerCertificate | undefined {
  const cert = socket.getPeerCertificate?.();
  return cert && Object.keys(cert).length > 0 ? cert : undefined;
}

/** The first Subject CN of a certificate ('' when absent). */
export function commonNameOf(cert: PeerCertificate): string {
  const cn: unknown = cert.subject?.CN;
  if (Array.isArray(cn)) return typeof cn[0] === 'string' ? cn[0] : '';
  return typeof cn === 'string' ? cn : '';
}

/** Decides whether a certificate names an acceptable device (after OpenSSL verified the chain). */
export function judgeCertificate(socket: TLSSocket, cert: PeerCertificate, context: Pick<AuthContext, 'autoRegister' | 'isRegistered'>): AuthDecision {
  if (!socket.authorized) return { ok: false, method: 'certificate', refusal: 'unknown_ca' };
  const identifier = commonNameOf(cert);
  if (identifier === '') return { ok: false, method: 'certificate', refusal: 'missing_common_name' };
  if (context.isRegistered(identifier)) return { ok: true, identifier, method: 'certificate', newDevice: false };
  if (context.autoRegister) return { ok: true, identifier, method: 'certificate', newDevice: true };
  return { ok: false, method: 'certificate', refusal: 'device_not_registered' };
}

/** `x-*` request headers, lower-cased, last value wins (Phoenix `x_headers` turned into a map). */
export function xHeadersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = (req.rawHeaders[i] ?? '').toLowerCase();
    if (name.startsWith('x-')) out[name] = req.rawHeaders[i + 1] ?? '';
  }
  return out;
}

/** Authenticates a WebSocket upgrade request like nerves_hub_web's DeviceSocket. */
export async function authenticateUpgrade(req: IncomingMessage, context: AuthContext): Promise<AuthDecision> {
  const socket = req.socket as TLSSocket;
  const cert = peerCertificateOf(socket);
  if (cert) return judgeCertificate(socket, cert, context);
  const headers = xHeadersOf(req);
  if (Object.keys(headers).length === 0) return { ok: false, refusal: 'no_auth' };
  const verdict = await verifyNh1Headers(headers, {
    lookup: (key) => context.credential(key),
    nowMs: context.nowMs,
    maxAgeSeconds: context.maxAgeSeconds,
    enabled: context.sharedSecretsEnabled,
  });
  if (!verdict.ok) return { ok: false, method: 'shared-secret', refusal: verdict.reason };
  const known = context.isRegistered(verdict.identifier);
  return { ok: true, identifier: verdict.identifier, method: 'shared-secret', newDevice: !known };
}
