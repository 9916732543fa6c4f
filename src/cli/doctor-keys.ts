/** `doctor`'s `keys` step: whether this device has fwup keys to verify firmware with. */
import { NervesHubError } from '../errors.js';
import type { AgentConfig } from './agent-config.js';
import type { JoinFacts } from './doctor-join.js';

/**
 * Can this device ever apply an update? Only with fwup keys: configured ones (pinned), or the ones
 * NervesHub sends after a join that asked for them (none configured).
 */
export function checkKeys(config: AgentConfig, joining: boolean, joined: JoinFacts | undefined, joinPassed: boolean, keysWaitMs: number): string {
  const configured = config.fwupPublicKeys.length;
  if (configured > 0) return `${configured} fwup public key${configured === 1 ? '' : 's'} configured (fwupPublicKeys; pinned: the server cannot replace them)`;
  if (!joining) {
    return 'no fwupPublicKeys configured: the device uses the keys NervesHub sends at each join; run doctor with --join to check that it sends some (without keys no update can be applied)';
  }
  if (!joinPassed || joined === undefined) throw new NervesHubError('NH_FW_NO_KEYS', 'no fwupPublicKeys configured, and the join did not pass, so no keys from NervesHub either: this device cannot apply an update');
  if (joined.serverKeys.length === 0) {
    throw new NervesHubError(
      'NH_FW_NO_KEYS',
      `no fwupPublicKeys configured and NervesHub sent none within ${keysWaitMs} ms of the join: this device can never apply an update (every offer fails with "Refusing unverified firmware")`,
    );
  }
  const n = joined.serverKeys.length;
  return `no fwupPublicKeys configured; NervesHub sent ${n} key${n === 1 ? '' : 's'} at the join, which the device uses (configure them to pin them)`;
}
