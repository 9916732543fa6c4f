/**
 * What `doctor`'s config (or engine) step builds for the network steps: exactly the socket options,
 * TLS material and first hop (endpoint or proxy) the agent would connect with, and the in-flight
 * update its journal records.
 */
import { X509Certificate } from 'node:crypto';
import type { Agent } from 'node:http';
import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { TlsClientMaterial } from '../auth/certificate-provider.js';
import { NervesHubError } from '../errors.js';
import type { ResolvedSocketOptions } from '../socket/options.js';
import { resolveSocketOptions } from '../socket/options.js';
import { createProxyAgent } from '../socket/proxy-agent.js';
import { buildTlsOptions } from '../socket/tls-options.js';
import type { AgentConfig } from './agent-config.js';
import type { AgentSocketOptions } from './agent.js';
import { agentSocketOptions, readDeviceCertificate } from './agent.js';
import type { ProbeTarget } from './doctor-probes.js';
import { UpdateJournal } from '../update/update-journal.js';

/** What the config step hands to the later steps. */
export interface Prepared {
  config: AgentConfig;
  socketOptions: AgentSocketOptions;
  resolved: ResolvedSocketOptions;
  tlsOptions: ConnectionOptions;
  certificate: X509Certificate | undefined;
  /** The NervesHub endpoint. */
  target: ProbeTarget;
  /** Where DNS and TCP are checked: the proxy when one is configured, else the endpoint. */
  firstHop: ProbeTarget & { viaProxy: boolean };
  /** Tunnels the TLS and upgrade probes through the proxy (`CONNECT`), when one is configured. */
  agent: Agent | undefined;
  /** The update in progress per the agent's journal: sent as `currently_downloading_uuid` by the join. */
  inFlightUuid: string | null;
}

/** Loads the config and builds exactly what the agent would connect with. */
export async function prepare(config: AgentConfig, timeoutMs: number): Promise<Prepared> {
  const socketOptions = await agentSocketOptions(config);
  const resolved = resolveSocketOptions(socketOptions);
  let material: TlsClientMaterial | undefined;
  let certificate: X509Certificate | undefined;
  if (resolved.auth.type === 'certificate') {
    material = await resolved.auth.provider.getTlsMaterial();
    certificate =
      config.auth.type === 'nerveskey'
        ? new X509Certificate(material.certificateChain[0] as string) // rebuilt from the chip
        : config.auth.type !== 'shared-secret'
          ? await readDeviceCertificate(config.auth.certFile)
          : undefined;
  }
  const built = buildTlsOptions(resolved, material);
  try {
    createSecureContext(built); // a key that does not match the certificate fails here, not in the handshake
  } catch (error) {
    throw new NervesHubError('NH_AUTH_CERT_FILE', `the TLS material cannot be used: ${(error as Error).message}`, { cause: error });
  }
  const url = new URL(resolved.endpoint);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (resolved.secure ? 443 : 80));
  const servername = resolved.tls.servername ?? (isIP(host) ? undefined : host);
  const tlsOptions: ConnectionOptions = { ...built, ...(servername ? { servername } : {}) };
  const target = { host, port, secure: resolved.secure, timeoutMs };
  const proxy = resolved.proxy;
  const firstHop = proxy
    ? { host: proxy.hostname.replace(/^\[|\]$/g, ''), port: Number(proxy.port || 80), secure: false, timeoutMs, viaProxy: true }
    : { ...target, viaProxy: false };
  const agent = proxy ? createProxyAgent({ proxyUrl: proxy, secure: resolved.secure, connectTimeoutMs: timeoutMs }) : undefined;
  return { config, socketOptions, resolved, tlsOptions, certificate, target, firstHop, agent, inFlightUuid: await inFlightUpdate(config) };
}

/** The update the agent's journal says is in progress (so a join keeps it), else null. Reads only. */
async function inFlightUpdate(config: AgentConfig): Promise<string | null> {
  const state = await new UpdateJournal({ stateDir: config.stateDir }).load();
  return state.pending?.uuid ?? null;
}
