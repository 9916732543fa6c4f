// The pure part of scripts/build-blake2b-wasm.mjs: generates the WebAssembly text (WAT) of the
// project's BLAKE2b module (RFC 7693, unkeyed, digest length 1..64, 128-bit SIMD), assembles it with
// wabt and renders src/firmware/blake2b-simd-wasm.ts. Same wabt, same bytes: the test
// test/firmware/blake2b-simd.test.ts regenerates the module and compares it with the committed one.
//
// Layout of the 4x4 state, as in the SSE4.1/SSSE3 BLAKE2b implementations: each row of the 4x4
// matrix v0..v15 is a pair of v128 (r1l = v0 v1, r1h = v2 v3, ... r4h = v14 v15), so one G half runs
// on all four columns with two vector ops. The 12 rounds and the sigma schedule are unrolled here.
//
// Memory: imported (`env.memory`, shared, so a worker thread can hash bytes another thread wrote
// into it without a copy; 2 to MAX_PAGES pages). One 64 KiB page of state, then the input area the
// JS side fills; a caller may use what lies beyond (the worker's ring):
//   0      h[8]      chaining value (64 bytes)
//   64     t0, t1    byte counter (128 bits)
//   80     buflen    bytes held in buf (0..128)
//   84     outlen    digest length in bytes
//   128    buf       the last block, held back until more data arrives (it may be the final one)
//   256    out       default digest area (OUT_PTR)
//   65536  input     INPUT_SIZE bytes (INPUT_PTR)

/** Offset of the input area in the module's memory. */
export const INPUT_PTR = 65536;
/** Size of the input area in bytes. */
export const INPUT_SIZE = 65536;
/** Default place for final()'s digest. */
export const OUT_PTR = 256;
/** Largest memory (pages of 64 KiB) the module accepts: state, input area and a worker's ring. */
export const MAX_PAGES = 64;

const IV = [
  0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
  0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n,
];

const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
];

const hex64 = (v) => `0x${v.toString(16).padStart(16, '0')}`;
const pairConst = (a, b) => `(v128.const i64x2 ${hex64(a)} ${hex64(b)})`;
const get = (name) => `(local.get $${name})`;
const set = (name, expr) => `(local.set $${name} ${expr})`;
const shuffle = (lanes, a, b) => `(i8x16.shuffle ${lanes.join(' ')} ${a} ${b})`;
const bytesOfLane = (first) => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => first + i);
/** (a.hi, b.lo): one palignr. */
const HI_LO = [...bytesOfLane(8), ...bytesOfLane(16)];

/** Rotates each 64-bit lane right by `bits`. */
function rotr(bits, name) {
  const x = get(name);
  // x + x is x << 1; with x >> 63 that is the rotation by 63 (no bit-rotate op in wasm SIMD).
  if (bits === 63) return `(v128.xor (i64x2.shr_u ${x} (i32.const 63)) (i64x2.add ${x} ${x}))`;
  const lanes = [0, 8].flatMap((base) => [0, 1, 2, 3, 4, 5, 6, 7].map((i) => base + ((i + bits / 8) % 8)));
  // V8 turns this one into pshufd.
  if (bits === 32) return shuffle(lanes, x, x);
  // A swizzle by a constant in range is one pshufb in V8; a generic i8x16.shuffle rebuilt its mask
  // each time and measured slower, as did shift + or.
  return `(i8x16.swizzle ${x} (v128.const i8x16 ${lanes.join(' ')}))`;
}

/** (m[a], m[b]) as one v128, from the block held as eight v128 locals m0 (m[0] m[1]) .. m7. */
function messagePair(a, b) {
  const [va, vb] = [get(`m${a >> 1}`), get(`m${b >> 1}`)];
  if (a % 2 === 0 && b === a + 1) return va;
  return shuffle([...bytesOfLane((a & 1) * 8), ...bytesOfLane(16 + (b & 1) * 8)], va, vb);
}

/** One half of G on the four columns: a += b + m; d = rotr(d ^ a, rotA); c += d; b = rotr(b ^ c, rotB). */
function halfG(out, lowPair, highPair, rotA, rotB) {
  out.push(set('b0', lowPair), set('b1', highPair));
  const both = (f) => {
    out.push(f('l', 'b0'), f('h', 'b1'));
  };
  // (a + m) first: m is ready early, so only one add waits for b (the critical path).
  both((h, m) => set(`r1${h}`, `(i64x2.add (i64x2.add ${get(`r1${h}`)} ${get(m)}) ${get(`r2${h}`)})`));
  both((h) => set(`r4${h}`, `(v128.xor ${get(`r4${h}`)} ${get(`r1${h}`)})`));
  both((h) => set(`r4${h}`, rotr(rotA, `r4${h}`)));
  both((h) => set(`r3${h}`, `(i64x2.add ${get(`r3${h}`)} ${get(`r4${h}`)})`));
  both((h) => set(`r2${h}`, `(v128.xor ${get(`r2${h}`)} ${get(`r3${h}`)})`));
  both((h) => set(`r2${h}`, rotr(rotB, `r2${h}`)));
}

// For the diagonal step row 2 stays put and rows 1, 3, 4 move, so the lane k of the vectors holds
// G(v[3+k mod 4], v[4+k], v[9+k mod 4 + 8], v[14+k mod 4 + 12]): lanes 0..3 run G7, G4, G5, G6.
// Row 2 is the last one each half computes; leaving it in place keeps the shuffles off the critical
// path (measured ~6% faster than moving rows 2, 3, 4).
function diagonalize(out) {
  out.push(set('t', shuffle(HI_LO, get('r1h'), get('r1l')))); // v3 v0
  out.push(set('r1h', shuffle(HI_LO, get('r1l'), get('r1h')))); // v1 v2
  out.push(set('r1l', get('t')));
  out.push(set('t', shuffle(HI_LO, get('r3l'), get('r3h')))); // v9 v10
  out.push(set('r3h', shuffle(HI_LO, get('r3h'), get('r3l')))); // v11 v8
  out.push(set('r3l', get('t')));
  out.push(set('t', get('r4l')), set('r4l', get('r4h')), set('r4h', get('t'))); // v14 v15, v12 v13
}

function undiagonalize(out) {
  out.push(set('t', shuffle(HI_LO, get('r1l'), get('r1h')))); // v0 v1
  out.push(set('r1h', shuffle(HI_LO, get('r1h'), get('r1l')))); // v2 v3
  out.push(set('r1l', get('t')));
  out.push(set('t', shuffle(HI_LO, get('r3h'), get('r3l')))); // v8 v9
  out.push(set('r3h', shuffle(HI_LO, get('r3l'), get('r3h')))); // v10 v11
  out.push(set('r3l', get('t')));
  out.push(set('t', get('r4l')), set('r4l', get('r4h')), set('r4h', get('t')));
}

function rounds() {
  const out = [];
  for (let r = 0; r < 12; r++) {
    const s = SIGMA[r % 10];
    out.push(`;; round ${r}`);
    // Columns: G0..G3 take (s[2i], s[2i+1]).
    halfG(out, messagePair(s[0], s[2]), messagePair(s[4], s[6]), 32, 24);
    halfG(out, messagePair(s[1], s[3]), messagePair(s[5], s[7]), 16, 63);
    diagonalize(out);
    // Diagonals in lane order G7 G4 | G5 G6; G(4+i) takes (s[8+2i], s[9+2i]).
    halfG(out, messagePair(s[14], s[8]), messagePair(s[10], s[12]), 32, 24);
    halfG(out, messagePair(s[15], s[9]), messagePair(s[11], s[13]), 16, 63);
    undiagonalize(out);
  }
  return out;
}

/** compress(p, n, inc, f0): n blocks at p; the counter grows by inc before each; f0 is the final-block flag word. */
function compress() {
  const rows = ['r1l', 'r1h', 'r2l', 'r2h', 'r3l', 'r3h', 'r4l', 'r4h'];
  const vectors = [...rows, 'h0', 'h1', 'h2', 'h3', 'm0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'b0', 'b1', 't'];
  const body = [];
  for (let i = 0; i < 4; i++) body.push(set(`h${i}`, `(v128.load offset=${i * 16} (i32.const 0))`));
  body.push(set('t0', '(i64.load offset=64 (i32.const 0))'), set('t1', '(i64.load offset=72 (i32.const 0))'));
  body.push('(block $done (loop $next');
  body.push('(br_if $done (i32.eqz (local.get $n)))');
  body.push(set('t0', `(i64.add ${get('t0')} ${get('inc')})`));
  body.push(set('t1', `(i64.add ${get('t1')} (i64.extend_i32_u (i64.lt_u ${get('t0')} ${get('inc')})))`));
  for (let i = 0; i < 8; i++) body.push(set(`m${i}`, `(v128.load offset=${i * 16} align=1 ${get('p')})`));
  body.push(set('r1l', get('h0')), set('r1h', get('h1')), set('r2l', get('h2')), set('r2h', get('h3')));
  body.push(set('r3l', pairConst(IV[0], IV[1])), set('r3h', pairConst(IV[2], IV[3])));
  body.push(set('r4l', `(v128.xor ${pairConst(IV[4], IV[5])} (i64x2.replace_lane 1 (i64x2.splat ${get('t0')}) ${get('t1')}))`));
  body.push(set('r4h', `(v128.xor ${pairConst(IV[6], IV[7])} (i64x2.replace_lane 1 (i64x2.splat ${get('f0')}) (i64.const 0)))`));
  body.push(...rounds());
  body.push(set('h0', `(v128.xor ${get('h0')} (v128.xor ${get('r1l')} ${get('r3l')}))`));
  body.push(set('h1', `(v128.xor ${get('h1')} (v128.xor ${get('r1h')} ${get('r3h')}))`));
  body.push(set('h2', `(v128.xor ${get('h2')} (v128.xor ${get('r2l')} ${get('r4l')}))`));
  body.push(set('h3', `(v128.xor ${get('h3')} (v128.xor ${get('r2h')} ${get('r4h')}))`));
  body.push(set('p', `(i32.add ${get('p')} (i32.const 128))`));
  body.push(set('n', `(i32.sub ${get('n')} (i32.const 1))`));
  body.push('(br $next)))');
  for (let i = 0; i < 4; i++) body.push(`(v128.store offset=${i * 16} (i32.const 0) ${get(`h${i}`)})`);
  body.push('(i64.store offset=64 (i32.const 0) (local.get $t0))', '(i64.store offset=72 (i32.const 0) (local.get $t1))');
  return [
    '(func $compress (param $p i32) (param $n i32) (param $inc i64) (param $f0 i64)',
    `  (local $t0 i64) (local $t1 i64) ${vectors.map((name) => `(local $${name} v128)`).join(' ')}`,
    ...body.map((line) => `  ${line}`),
    ')',
  ];
}

/** The module's WAT text (deterministic). */
export function generateBlake2bWat() {
  const pages = (INPUT_PTR + INPUT_SIZE) / 65536;
  const init = [
    // h[0] ^= 0x0101kknn: fanout 1, depth 1, key length 0, digest length nn.
    `(i64.store offset=0 (i32.const 0) (i64.xor (i64.const ${hex64(IV[0])}) (i64.extend_i32_u (i32.or (i32.const 0x01010000) (local.get $outlen)))))`,
  ];
  for (let i = 1; i < 8; i++) init.push(`(i64.store offset=${i * 8} (i32.const 0) (i64.const ${hex64(IV[i])}))`);
  return [
    ';; BLAKE2b (RFC 7693), unkeyed, 128-bit SIMD. Generated by scripts/blake2b-wat.mjs: do not edit.',
    '(module',
    `(import "env" "memory" (memory ${pages} ${MAX_PAGES} shared))`,
    '(export "memory" (memory 0))',
    `(global (export "INPUT_PTR") i32 (i32.const ${INPUT_PTR}))`,
    `(global (export "INPUT_SIZE") i32 (i32.const ${INPUT_SIZE}))`,
    `(global (export "OUT_PTR") i32 (i32.const ${OUT_PTR}))`,
    ...compress(),
    ';; init(outlen): fresh state for an outlen-byte digest (1..64; the caller checks).',
    '(func (export "init") (param $outlen i32)',
    ...init.map((line) => `  ${line}`),
    '  (i64.store offset=64 (i32.const 0) (i64.const 0))',
    '  (i64.store offset=72 (i32.const 0) (i64.const 0))',
    '  (i32.store offset=80 (i32.const 0) (i32.const 0))',
    '  (i32.store offset=84 (i32.const 0) (local.get $outlen))',
    ')',
    ';; update(p, len): absorbs len bytes at p. The last block (full or not) stays in buf: only final()',
    ';; knows whether it is the last one, which is compressed with the final flag.',
    '(func (export "update") (param $p i32) (param $len i32)',
    '  (local $left i32) (local $fill i32) (local $n i32)',
    '  (local.set $left (i32.load offset=80 (i32.const 0)))',
    '  (local.set $fill (i32.sub (i32.const 128) (local.get $left)))',
    '  (if (i32.gt_u (local.get $len) (local.get $fill)) (then',
    '    (memory.copy (i32.add (i32.const 128) (local.get $left)) (local.get $p) (local.get $fill))',
    '    (call $compress (i32.const 128) (i32.const 1) (i64.const 128) (i64.const 0))',
    '    (local.set $left (i32.const 0))',
    '    (local.set $p (i32.add (local.get $p) (local.get $fill)))',
    '    (local.set $len (i32.sub (local.get $len) (local.get $fill)))',
    '    ;; every whole block but the one holding the last byte: (len - 1) / 128 of them',
    '    (if (i32.gt_u (local.get $len) (i32.const 128)) (then',
    '      (local.set $n (i32.shr_u (i32.sub (local.get $len) (i32.const 1)) (i32.const 7)))',
    '      (call $compress (local.get $p) (local.get $n) (i64.const 128) (i64.const 0))',
    '      (local.set $p (i32.add (local.get $p) (i32.shl (local.get $n) (i32.const 7))))',
    '      (local.set $len (i32.sub (local.get $len) (i32.shl (local.get $n) (i32.const 7))))))))',
    '  (memory.copy (i32.add (i32.const 128) (local.get $left)) (local.get $p) (local.get $len))',
    '  (i32.store offset=80 (i32.const 0) (i32.add (local.get $left) (local.get $len)))',
    ')',
    ';; final(out): compresses the held block (zero-padded) with the final flag; writes outlen bytes at out.',
    '(func (export "final") (param $out i32)',
    '  (local $left i32)',
    '  (local.set $left (i32.load offset=80 (i32.const 0)))',
    '  (memory.fill (i32.add (i32.const 128) (local.get $left)) (i32.const 0) (i32.sub (i32.const 128) (local.get $left)))',
    '  (call $compress (i32.const 128) (i32.const 1) (i64.extend_i32_u (local.get $left)) (i64.const -1))',
    '  (memory.copy (local.get $out) (i32.const 0) (i32.load offset=84 (i32.const 0)))',
    ')',
    ')',
    '',
  ].join('\n');
}

/** Assembles the WAT with wabt (`await require('wabt')()`); returns the module bytes. */
export function assembleBlake2bWasm(wabt) {
  const features = { simd: true, bulk_memory: true, threads: true };
  const parsed = wabt.parseWat('blake2b.wat', generateBlake2bWat(), features);
  try {
    parsed.resolveNames();
    parsed.validate(features);
    // No names section: the bytes depend on the text only.
    return new Uint8Array(parsed.toBinary({ log: false, canonicalize_lebs: true, relocatable: false, write_debug_names: false }).buffer);
  } finally {
    parsed.destroy();
  }
}

/** The text of src/firmware/blake2b-simd-wasm.ts for these module bytes. */
export function renderBlake2bWasmSource(bytes) {
  const base64 = Buffer.from(bytes).toString('base64');
  const lines = [];
  for (let i = 0; i < base64.length; i += 100) lines.push(`  '${base64.slice(i, i + 100)}',`);
  return [
    '// Generated by scripts/build-blake2b-wasm.mjs (from scripts/blake2b-wat.mjs): do not edit.',
    '// test/firmware/blake2b-simd.test.ts checks that these bytes are what the generator produces.',
    '',
    `/** The BLAKE2b WebAssembly module (128-bit SIMD, shared memory imported as env.memory, ${bytes.length} bytes), base64. */`,
    'export const BLAKE2B_SIMD_WASM_BASE64 = [',
    ...lines,
    "].join('');",
    '',
    `/** Offset of the module's input area (the JS side copies data there before update()). */`,
    `export const BLAKE2B_SIMD_INPUT_PTR = ${INPUT_PTR};`,
    '/** Size of the input area in bytes. */',
    `export const BLAKE2B_SIMD_INPUT_SIZE = ${INPUT_SIZE};`,
    '/** Where final() writes the digest by default. */',
    `export const BLAKE2B_SIMD_OUT_PTR = ${OUT_PTR};`,
    "/** Pages (64 KiB) of the shared memory the module imports as `env.memory`: at least these… */",
    `export const BLAKE2B_SIMD_MIN_PAGES = ${(INPUT_PTR + INPUT_SIZE) / 65536};`,
    '/** …and at most these. */',
    `export const BLAKE2B_SIMD_MAX_PAGES = ${MAX_PAGES};`,
    '',
  ].join('\n');
}
