import type { SharedSecretCredential } from './nh1-verifier.js';
import type { UpdatePayload } from './types.js';

/** What the test server knows about one device. */
export interface DeviceState {
  readonly identifier: string;
  joinCount: number;
  lastJoinParams: Record<string, unknown> | undefined;
  queuedUpdates: UpdatePayload[];
}

/**
 * The "database" of the test server: devices, signer CAs, shared-secret keys and the org's
 * public keys. Survives {@link NervesHubTestServer.restart}.
 */
export class DeviceRegistry {
  readonly #devices = new Map<string, DeviceState>();
  readonly #credentials = new Map<string, SharedSecretCredential>();
  readonly #signerCas: string[] = [];
  #fwupKeys: readonly string[] = [];
  #archiveKeys: readonly string[] = [];

  get signerCas(): readonly string[] {
    return this.#signerCas;
  }
  get fwupPublicKeys(): readonly string[] {
    return this.#fwupKeys;
  }
  get archivePublicKeys(): readonly string[] {
    return this.#archiveKeys;
  }

  registerSignerCa(pem: string): void {
    if (!this.#signerCas.includes(pem)) this.#signerCas.push(pem);
  }
  registerDevice(identifier: string): DeviceState {
    let state = this.#devices.get(identifier);
    if (!state) {
      state = { identifier, joinCount: 0, lastJoinParams: undefined, queuedUpdates: [] };
      this.#devices.set(identifier, state);
    }
    return state;
  }
  isRegistered(identifier: string): boolean {
    return this.#devices.has(identifier);
  }
  device(identifier: string): DeviceState | undefined {
    return this.#devices.get(identifier);
  }
  addCredential(credential: SharedSecretCredential): void {
    this.#credentials.set(credential.key, credential);
  }
  removeCredential(key: string): void {
    this.#credentials.delete(key);
  }
  credential(key: string): SharedSecretCredential | undefined {
    return this.#credentials.get(key);
  }
  setFwupPublicKeys(keys: readonly string[]): void {
    this.#fwupKeys = [...keys];
  }
  setArchivePublicKeys(keys: readonly string[]): void {
    this.#archiveKeys = [...keys];
  }
  recordJoin(identifier: string, params: Record<string, unknown>): void {
    const state = this.registerDevice(identifier);
    state.joinCount += 1;
    state.lastJoinParams = params;
  }
  queueUpdate(identifier: string, payload: UpdatePayload): void {
    this.registerDevice(identifier).queuedUpdates.push(payload);
  }
  takeQueuedUpdates(identifier: string): UpdatePayload[] {
    const state = this.#devices.get(identifier);
    if (!state) return [];
    const updates = state.queuedUpdates;
    state.queuedUpdates = [];
    return updates;
  }
}
