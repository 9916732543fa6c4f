/**
 * Pulls the next chunk of `iterator`, but settles at once when `signal` fires (a stalled download
 * must not keep an aborted apply or verify waiting): resolves `'aborted'` then. The abort listener
 * lives for one call only: racing every `next()` against one long-lived pending promise would leave
 * a reaction per call on it, each keeping its settled chunk alive (≈ the whole firmware in RSS).
 * @internal
 */
export function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T> | 'aborted'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve, reject) => {
    const onAbort = (): void => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    iterator.next().then(
      (result) => {
        signal.removeEventListener('abort', onAbort);
        resolve(result);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Tells a source we are done with it without waiting (it may be blocked in a read). */
export function releaseSource<T>(iterator: AsyncIterator<T>): void {
  try {
    void iterator.return?.()?.catch(() => {});
  } catch {
    // A source that cannot be closed is not our problem any more.
  }
}
