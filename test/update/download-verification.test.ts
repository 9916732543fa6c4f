import { describe, expect, it } from 'vitest';
import { NervesHubError } from '../../src/errors.js';
import { DownloadVerification } from '../../src/update/download-verification.js';

const chunk = (n: number): Uint8Array => new Uint8Array(n).fill(7);

/** A verifier that reads everything, then passes or throws `error`. */
function reading(error?: unknown): (source: AsyncIterable<Uint8Array>) => Promise<void> {
  return async (source) => {
    for await (const c of source) void c;
    if (error !== undefined) throw error;
  };
}

describe('DownloadVerification (the cached strategy verifying beside its download)', () => {
  it('a verifier that reads every byte and passes: finish resolves, the download was never stopped', async () => {
    const v = new DownloadVerification(reading(), new AbortController().signal);
    for (let i = 0; i < 10; i++) await v.push(chunk(1024 * 1024));
    await v.finish();
    expect(v.signal.aborted).toBe(false);
    expect(v.rejection).toBeUndefined();
  });

  it('an NH_FW_ verdict stops the download at once and is what finish throws', async () => {
    const verdict = new NervesHubError('NH_FW_BAD_SIGNATURE', "Firmware archive's meta.conf fails digital signature verification.");
    const v = new DownloadVerification(async (source) => {
      for await (const c of source) {
        void c;
        throw verdict;
      }
    }, new AbortController().signal);
    await v.push(chunk(100));
    await new Promise((resolve) => setImmediate(resolve));
    expect(v.signal.aborted).toBe(true);
    expect(v.rejection?.error).toBe(verdict);
    await expect(v.finish()).rejects.toBe(verdict);
  });

  it('fails closed on any other error of the verifier (a delta error, a bug): it is no pass', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const v = new DownloadVerification(reading(bug), new AbortController().signal);
    await v.push(chunk(10));
    await expect(v.finish()).rejects.toBe(bug);
    expect(v.signal.aborted).toBe(true);
  });

  it('a verifier that returns before the end of the download is a rejection, not a pass', async () => {
    const v = new DownloadVerification(async (source) => {
      for await (const c of source) {
        void c;
        return;
      }
    }, new AbortController().signal);
    await v.push(chunk(10));
    await v.push(chunk(10));
    await expect(v.finish()).rejects.toThrow(/returned before the end of the download/);
  });

  it("the update's own abort, or a download that failed first, is no verdict on the archive", async () => {
    const update = new AbortController();
    const aborted = new DownloadVerification(async (source, signal) => {
      for await (const c of source) {
        void c;
        signal.throwIfAborted();
      }
    }, update.signal);
    await aborted.push(chunk(10));
    update.abort(new Error('stop'));
    await aborted.push(chunk(10));
    await aborted.abandon(new Error('stop'));
    expect(aborted.rejection).toBeUndefined();

    const dropped = new DownloadVerification(reading(), new AbortController().signal);
    await dropped.push(chunk(10));
    await dropped.abandon(new Error('connection reset'));
    expect(dropped.rejection).toBeUndefined();
  });
});
