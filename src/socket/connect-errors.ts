import { X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { NervesHubError, isNervesHubError } from '../errors.js';
import { sanitizeForLog } from '../logging/log-sanitizer.js';
import { CONNECTION_ERROR_REASON_HEADER } from '../protocol/constants.js';

/**
 * Stable codes of the errors a {@link NervesHubSocket} emits.
 *
 * @category Connection
 */
export const SocketErrorCodes = Object.freeze({
  /** The server refused our client certificate (TLS alert unknown_ca / bad_certificate / …). */
  tlsUnknownCa: 'NH_SOCKET_TLS_UNKNOWN_CA',
  /** The server did not ask for / accept a client certificate at all (certificate_required). */
  tlsCertificateRequired: 'NH_SOCKET_TLS_CERT_REQUIRED',
  /** We do not trust the server's certificate. */
  serverCertUntrusted: 'NH_SOCKET_SERVER_CERT_UNTRUSTED',
  /** The server's certificate does not name the host we connected to. */
  serverNameMismatch: 'NH_SOCKET_SERVER_NAME_MISMATCH',
  /** A certificate (ours or the server's) is expired or not yet valid. */
  certExpired: 'NH_SOCKET_CERT_EXPIRED',
  /** The device clock is obviously wrong (before 2020 or before the certificate's notBefore). */
  clockNotSet: 'NH_SOCKET_CLOCK_NOT_SET',
  /** Other TLS failure. */
  tls: 'NH_SOCKET_TLS',
  /** HTTP 401 on the upgrade. */
  unauthorized: 'NH_SOCKET_UNAUTHORIZED',
  /** HTTP 503 on the upgrade. */
  serviceUnavailable: 'NH_SOCKET_SERVICE_UNAVAILABLE',
  /** HTTP 403: serializer version refused (or an old server refusing auth). */
  serializer: 'NH_SOCKET_SERIALIZER',
  /** Other unexpected HTTP status on the upgrade (e.g. a 3xx/404 from a wrong URL). */
  httpStatus: 'NH_SOCKET_HTTP_STATUS',
  /** Host name did not resolve. */
  dns: 'NH_SOCKET_DNS',
  /** TCP connect refused / timed out / reset. */
  connect: 'NH_SOCKET_CONNECT',
  /** HTTP proxy refused the CONNECT tunnel. */
  proxy: 'NH_SOCKET_PROXY',
  /** No heartbeat reply within one interval. */
  heartbeatTimeout: 'NH_SOCKET_HEARTBEAT_TIMEOUT',
  /** The server answered the `device` join with an error. */
  joinRefused: 'NH_SOCKET_JOIN_REFUSED',
  /** The certificate provider failed. */
  certificateProvider: 'NH_SOCKET_CERT_PROVIDER',
  /** A redirect to an insecure (ws://) URL from a wss:// URL was refused. */
  insecureRedirect: 'NH_SOCKET_INSECURE_REDIRECT',
  /** `joinTopic()` was called before `connect()`. */
  notConnected: 'NH_SOCKET_NOT_CONNECTED',
  /** The firmware metadata callback failed; the join is retried. */
  firmwareMetadata: 'NH_SOCKET_FIRMWARE_METADATA',
} as const);

/** What went wrong in one connection attempt, as captured on the transport. @internal */
export type AttemptFailure =
  | { kind: 'http'; status: number; headers: IncomingHttpHeaders }
  | { kind: 'network'; error: Error & { code?: string }; pastKeyExchange: boolean }
  | { kind: 'provider'; error: unknown }
  | { kind: 'insecure-redirect'; location: string };

/** Facts used to explain a failure. @internal */
export interface FailureContext {
  nowMs: number;
  /** Our device certificate (PEM), for the clock check. */
  deviceCertificatePem?: string;
  authType: 'certificate' | 'shared-secret';
}

/** Earliest believable device time: anything before is an unset clock. */
const EARLIEST_PLAUSIBLE_TIME_MS = Date.UTC(2020, 0, 1);

const PEER_REFUSED_OUR_CERT = /ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_REVOKED|ACCESS_DENIED|DECRYPT_ERROR)|alert (unknown ca|bad certificate|certificate unknown)/i;
const PEER_CERT_REQUIRED = /ALERT_CERTIFICATE_REQUIRED|alert certificate required|ALERT_HANDSHAKE_FAILURE/i;
const PEER_SAYS_EXPIRED = /ALERT_CERTIFICATE_EXPIRED|alert certificate expired/i;
const UNTRUSTED_SERVER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REJECTED',
  'INVALID_CA',
]);

function isoDay(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 10) : 'an invalid date';
}

/** @internal Returns a clock error when the device clock cannot be right, else undefined. */
export function clockProblem(nowMs: number, certificatePem: string | undefined, cause?: unknown): NervesHubError | undefined {
  let notBeforeMs: number | undefined;
  if (certificatePem) {
    try {
      notBeforeMs = Date.parse(new X509Certificate(certificatePem).validFrom);
    } catch {
      notBeforeMs = undefined;
    }
  }
  if (nowMs < EARLIEST_PLAUSIBLE_TIME_MS || (notBeforeMs !== undefined && nowMs < notBeforeMs)) {
    return new NervesHubError(
      SocketErrorCodes.clockNotSet,
      `the device clock says ${isoDay(nowMs)}: set the time first (NTP or an RTC); TLS certificates cannot be checked with a wrong clock`,
      { cause },
    );
  }
  return undefined;
}

/** Clock problem first, then an expired device certificate, judged by the device clock. */
function ownCertificateProblem(ctx: FailureContext, cause: unknown): NervesHubError | undefined {
  const clock = clockProblem(ctx.nowMs, ctx.deviceCertificatePem, cause);
  if (clock || !ctx.deviceCertificatePem) return clock;
  let notAfterMs: number;
  try {
    notAfterMs = Date.parse(new X509Certificate(ctx.deviceCertificatePem).validTo);
  } catch {
    return undefined;
  }
  if (ctx.nowMs > notAfterMs) {
    return new NervesHubError(
      SocketErrorCodes.certExpired,
      `the device certificate expired on ${isoDay(notAfterMs)}: renew it (NervesHub only accepts expired certificates it already knows)`,
      { cause },
    );
  }
  return undefined;
}

/**
 * Turns a failed connection attempt into a {@link NervesHubError} that says what to do.
 * @internal
 */
export function describeAttemptFailure(failure: AttemptFailure, ctx: FailureContext): NervesHubError {
  switch (failure.kind) {
    case 'provider':
      if (isNervesHubError(failure.error)) return failure.error;
      return new NervesHubError(SocketErrorCodes.certificateProvider, `the certificate provider failed: ${errorMessage(failure.error)}`, { cause: failure.error });
    case 'insecure-redirect':
      return new NervesHubError(SocketErrorCodes.insecureRedirect, 'the server redirected a wss:// connection to an insecure URL; refusing (check the configured URL)');
    case 'http':
      return describeHttp(failure.status, failure.headers, ctx);
    case 'network':
      return describeNetwork(failure.error, failure.pastKeyExchange, ctx);
  }
}

function describeHttp(status: number, headers: IncomingHttpHeaders, ctx: FailureContext): NervesHubError {
  const header = headers[CONNECTION_ERROR_REASON_HEADER];
  const reason = Array.isArray(header) ? header.join('; ') : header;
  const why = reason ? ` (server says: ${sanitizeForLog(reason, 200)})` : '';
  if (status === 401) {
    const hint =
      ctx.authType === 'shared-secret'
        ? 'check the shared-secret key, secret and identifier, that shared secrets are enabled on the server, and the device clock (signatures are valid for 90 s and never from the future)'
        : 'check that the device certificate is registered with NervesHub';
    return new NervesHubError(SocketErrorCodes.unauthorized, `NervesHub refused the device (401)${why}: ${hint}`);
  }
  if (status === 503) {
    return new NervesHubError(SocketErrorCodes.serviceUnavailable, `NervesHub is unavailable (503)${why}; retrying`);
  }
  if (status === 403) {
    return new NervesHubError(
      SocketErrorCodes.serializer,
      `NervesHub refused the connection (403)${why}: the server may not accept serializer vsn=2.0.0, or (older servers) refused the device's credentials`,
    );
  }
  return new NervesHubError(
    SocketErrorCodes.httpStatus,
    `unexpected HTTP ${status} on the websocket upgrade${why}: check the URL (the path must end in /socket/websocket or /device-socket/websocket)`,
  );
}

function describeNetwork(error: Error & { code?: string }, pastKeyExchange: boolean, ctx: FailureContext): NervesHubError {
  const code = error.code ?? '';
  const text = `${code} ${error.message}`;
  // Dropped right after a completed handshake, before any HTTP answer: the server judged our
  // certificate after the handshake (TLS 1.3, or a verify step that closes instead of alerting).
  if (pastKeyExchange && ctx.authType === 'certificate' && (code === 'ECONNRESET' || /socket hang up/i.test(error.message))) {
    return (
      ownCertificateProblem(ctx, error) ??
      new NervesHubError(
        SocketErrorCodes.tlsUnknownCa,
        'NervesHub closed the connection right after the TLS handshake, so it refused the device certificate: is the signer CA registered with NervesHub, and is the device (certificate CN) registered?',
        { cause: error },
      )
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') {
    return new NervesHubError(SocketErrorCodes.dns, `cannot resolve the NervesHub host (${code}): check the URL and the device's DNS/network`, { cause: error });
  }
  if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT' || code === 'ECONNRESET' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EPIPE') {
    return new NervesHubError(SocketErrorCodes.connect, `cannot connect to NervesHub (${code}): check the host/port and the network; retrying`, { cause: error });
  }
  if (isNervesHubError(error)) return error;
  if (PEER_SAYS_EXPIRED.test(text)) {
    return (
      ownCertificateProblem(ctx, error) ??
      new NervesHubError(SocketErrorCodes.certExpired, 'NervesHub says the device certificate has expired: renew the device certificate', { cause: error })
    );
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return (
      clockProblem(ctx.nowMs, undefined, error) ??
      new NervesHubError(
        SocketErrorCodes.certExpired,
        `the server's certificate is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} by the device clock (${isoDay(ctx.nowMs)}): check the clock, or tell the server operator`,
        { cause: error },
      )
    );
  }
  if (PEER_CERT_REQUIRED.test(text)) {
    return new NervesHubError(
      SocketErrorCodes.tlsCertificateRequired,
      'NervesHub wants a client certificate and none was accepted: configure certificate auth (or use the /device-socket path for shared secrets)',
      { cause: error },
    );
  }
  if (PEER_REFUSED_OUR_CERT.test(text)) {
    return (
      ownCertificateProblem(ctx, error) ??
      new NervesHubError(
        SocketErrorCodes.tlsUnknownCa,
        'NervesHub refused the device certificate: is the signer CA registered with NervesHub, and does the chain include the signer certificate?',
        { cause: error },
      )
    );
  }
  if (UNTRUSTED_SERVER.has(code)) {
    return new NervesHubError(
      SocketErrorCodes.serverCertUntrusted,
      `the server's certificate is not trusted (${code}): is serverCa (tls.ca) set to the CA that signed NervesHub's certificate?`,
      { cause: error },
    );
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new NervesHubError(
      SocketErrorCodes.serverNameMismatch,
      `the server's certificate does not name this host: check the URL or set tls.servername`,
      { cause: error },
    );
  }
  if (/SSL|TLS/i.test(code) || /SSL|TLS/.test(error.message)) {
    return new NervesHubError(SocketErrorCodes.tls, `TLS handshake with NervesHub failed (${code || error.message})`, { cause: error });
  }
  return new NervesHubError(SocketErrorCodes.connect, `connection to NervesHub failed: ${error.message}`, { cause: error });
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
