/**
 * Which chunk sources let their consumer hand buffers back. A source is registered by the object
 * the consumer iterates, so only the consumer that received that very object can recycle its
 * chunks: an applier wrapped by the host app gets the wrapper's own iterable, and then nothing is
 * reused behind the wrapper's back (it may keep the chunks).
 */
const recyclers = new WeakMap<object, (offset: number) => void>();

/**
 * Lets the consumer of `source` say it keeps no view of the bytes before an offset of the stream
 * any more (`doneThrough`), so their buffers can be reused.
 * @internal
 */
export function offerChunkRecycling(source: object, doneThrough: (offset: number) => void): void {
  recyclers.set(source, doneThrough);
}

/**
 * The `doneThrough` callback registered for `source`, if any: call it with the stream offset
 * before which no view of the chunks is kept any more (e.g. after those bytes were written).
 * @internal
 */
export function chunkRecyclerOf(source: object): ((offset: number) => void) | undefined {
  return recyclers.get(source);
}
