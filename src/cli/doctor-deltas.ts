import { open } from 'node:fs/promises';
import { NervesHubError } from '../errors.js';
import { readFirmwareMetadata } from '../firmware/read-firmware-metadata.js';
import type { AgentConfig } from './agent-config.js';
import { agentDeltaCapability } from './agent.js';

/** The archive a `file`/`archive` delta source reads, if any. */
function sourceArchive(config: AgentConfig): string | undefined {
  const source = config.deltaSource;
  if (source?.type === 'archive') return source.path;
  if (source?.type === 'file' && config.apply.type === 'file') return config.apply.path;
  return undefined;
}

/**
 * `doctor`'s `deltas` step: whether this device can take delta firmware and why (the answer `run`
 * joins with), and whether the configured delta source is usable. NervesHub makes a delta from the
 * firmware the device reports (`firmware.uuid`): an archive source holding other firmware, or a
 * device that cannot be read, would make every delta fail, so those fail this step.
 *
 * @throws NervesHubError `NH_DELTA_NO_SOURCE` / `NH_DELTA_WRONG_SOURCE` for an unusable source
 */
export async function checkDeltas(config: AgentConfig): Promise<string> {
  const { canApplyDeltas, via, reason } = agentDeltaCapability(config);
  const archive = sourceArchive(config);
  if (config.deltaSource?.type === 'archive' || (archive !== undefined && via === 'delta-source')) {
    let uuid: string;
    try {
      uuid = (await readFirmwareMetadata(archive!)).uuid; // only its identity matters: the rebuilt firmware is verified anyway
    } catch (error) {
      throw new NervesHubError('NH_DELTA_NO_SOURCE', `deltaSource: ${archive} is not a readable firmware archive: ${(error as Error).message}`);
    }
    if (uuid !== config.firmware.uuid) {
      throw new NervesHubError('NH_DELTA_WRONG_SOURCE', `deltaSource: ${archive} is firmware ${uuid}, but firmware.uuid says the device runs ${config.firmware.uuid}; NervesHub makes deltas from the running firmware, so every delta would fail`);
    }
  }
  if (config.deltaSource?.type === 'raw') {
    try {
      await (await open(config.deltaSource.path, 'r')).close();
    } catch (error) {
      throw new NervesHubError('NH_DELTA_NO_SOURCE', `deltaSource: cannot read ${config.deltaSource.path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  if (!canApplyDeltas && config.deltaSource?.type === 'file') {
    return `no: deltaSource "file": ${archive ?? 'apply.path'} holds no firmware archive yet, so deltas start after the first full update (fwup_version is not reported, so NervesHub sends full firmware)`;
  }
  return canApplyDeltas ? `yes: ${reason} (fwup_version is reported, so NervesHub may send deltas)` : `no: ${reason} (fwup_version is not reported, so NervesHub sends full firmware)`;
}
