// Types of scripts/blake2b-wat.mjs for the TypeScript test that imports it.

/** Offset of the input area in the module's memory. */
export declare const INPUT_PTR: number;
/** Size of the input area in bytes. */
export declare const INPUT_SIZE: number;
/** Default place for final()'s digest. */
export declare const OUT_PTR: number;
/** The module's WAT text (deterministic). */
export declare function generateBlake2bWat(): string;
/** Assembles the WAT with wabt (the value of `await require('wabt')()`); returns the module bytes. */
export declare function assembleBlake2bWasm(wabt: unknown): Uint8Array;
/** The text of src/firmware/blake2b-simd-wasm.ts for these module bytes. */
export declare function renderBlake2bWasmSource(bytes: Uint8Array): string;
