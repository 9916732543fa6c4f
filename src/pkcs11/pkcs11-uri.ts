import { NervesHubError } from '../errors.js';

/** The object classes an RFC 7512 `type` attribute may name. */
export type Pkcs11ObjectType = 'private' | 'public' | 'cert' | 'secret-key' | 'data';

/**
 * A parsed RFC 7512 PKCS#11 URI. Values are percent-decoded; `id` is the raw `CKA_ID` bytes.
 * `pinValue` is kept apart so nothing prints it by accident.
 *
 * @example
 * ```ts
 * const uri = parsePkcs11Uri('pkcs11:token=dev;object=device-key;type=private');
 * uri.token; // 'dev'
 * ```
 */
export interface Pkcs11Uri {
  /** `token`: the token label (`CKA_LABEL` of the token). */
  token?: string;
  /** `manufacturer`: the token manufacturer. */
  manufacturer?: string;
  /** `serial`: the token serial number. */
  serial?: string;
  /** `model`: the token model. */
  model?: string;
  /** `object`: the object label (`CKA_LABEL`). */
  object?: string;
  /** `id`: the object id (`CKA_ID`), raw bytes. */
  id?: Uint8Array;
  /** `type`: the object class. */
  type?: Pkcs11ObjectType;
  /** `slot-id`: the slot number. */
  slotId?: number;
  /** `pin-value` query attribute. Never logged; prefer a PIN source outside the URI. */
  pinValue?: string;
  /** `pin-source` query attribute (e.g. `file:/run/pin`). */
  pinSource?: string;
  /** `module-path` query attribute. */
  modulePath?: string;
  /** Any other attribute (path or query), percent-decoded, e.g. vendor `x-…` ones. */
  other: Record<string, string>;
}

const TYPES: readonly Pkcs11ObjectType[] = ['private', 'public', 'cert', 'secret-key', 'data'];
const PATH_KEYS = ['token', 'manufacturer', 'serial', 'model', 'object', 'id', 'type', 'slot-id', 'slot-description', 'slot-manufacturer', 'library-manufacturer', 'library-description', 'library-version'];
const QUERY_KEYS = ['pin-value', 'pin-source', 'module-name', 'module-path'];

function invalid(why: string): NervesHubError {
  // never echo the URI: it may carry pin-value
  return new NervesHubError('NH_PKCS11_URI_INVALID', `invalid PKCS#11 URI (RFC 7512): ${why}; expected e.g. pkcs11:token=dev;object=device-key;type=private`);
}

function decode(value: string, name: string): Uint8Array {
  const bytes: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw invalid(`attribute "${name}" has a bad percent-escape`);
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Uint8Array.from(bytes);
}

/**
 * Parses and validates an RFC 7512 PKCS#11 URI (path attributes `;`-separated, query attributes
 * after `?`, `&`-separated, percent-encoded values). Attribute names must be known or vendor
 * `x-` names; none may repeat; `type` must be an RFC 7512 class.
 *
 * @throws NervesHubError `NH_PKCS11_URI_INVALID`; the message never contains the URI (it may hold a PIN).
 * @example
 * ```ts
 * parsePkcs11Uri('pkcs11:token=dev;id=%01;type=private').id; // Uint8Array [1]
 * ```
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (typeof uri !== 'string' || !/^pkcs11:/i.test(uri)) throw invalid('it must start with "pkcs11:"');
  const body = uri.slice('pkcs11:'.length);
  const q = body.indexOf('?');
  const path = q === -1 ? body : body.slice(0, q);
  const query = q === -1 ? '' : body.slice(q + 1);
  const result: Pkcs11Uri = { other: {} };
  const seen = new Set<string>();
  const visit = (part: string, known: string[], where: string): void => {
    if (part === '') return;
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalid(`${where} attribute without "name=value"`);
    const name = part.slice(0, eq).toLowerCase();
    if (!known.includes(name) && !name.startsWith('x-')) throw invalid(`unknown ${where} attribute "${name}"`);
    if (seen.has(name)) throw invalid(`attribute "${name}" appears twice`);
    seen.add(name);
    const raw = decode(part.slice(eq + 1), name);
    const text = Buffer.from(raw).toString('utf8');
    switch (name) {
      case 'token':
      case 'manufacturer':
      case 'serial':
      case 'model':
      case 'object':
        result[name] = text;
        break;
      case 'id':
        if (raw.length === 0) throw invalid('attribute "id" is empty');
        result.id = raw;
        break;
      case 'type':
        if (!(TYPES as readonly string[]).includes(text)) throw invalid(`attribute "type" must be one of ${TYPES.join(', ')}`);
        result.type = text as Pkcs11ObjectType;
        break;
      case 'slot-id':
        if (!/^\d+$/.test(text)) throw invalid('attribute "slot-id" must be a decimal number');
        result.slotId = Number(text);
        break;
      case 'pin-value':
        result.pinValue = text;
        break;
      case 'pin-source':
        result.pinSource = text;
        break;
      case 'module-path':
        result.modulePath = text;
        break;
      default:
        result.other[name] = text;
    }
  };
  for (const part of path.split(';')) visit(part, PATH_KEYS, 'path');
  for (const part of query.split('&')) visit(part, QUERY_KEYS, 'query');
  return result;
}

/** Characters RFC 7512 allows unescaped in a path value (`pchar` minus `;`). */
const PATH_SAFE = /[A-Za-z0-9\-._~:[\]@!$'()*+,=&]/;
/** In a query value `/` and `?` are also fine, `&` is not. */
const QUERY_SAFE = /[A-Za-z0-9\-._~:[\]@!$'()*+,=/?|]/;

function encode(value: string | Uint8Array, safe: RegExp, forceHex = false): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  let out = '';
  for (const b of bytes) {
    const c = String.fromCharCode(b);
    out += !forceHex && b < 0x80 && safe.test(c) ? c : `%${b.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * Builds a PKCS#11 URI from its parts (percent-encoding as needed; `id` is always hex-escaped).
 * `pinValue` is deliberately not accepted: give the PIN to the provider instead.
 *
 * @example
 * ```ts
 * formatPkcs11Uri({ token: 'dev', object: 'device-key', type: 'private' });
 * // 'pkcs11:token=dev;object=device-key;type=private'
 * ```
 */
export function formatPkcs11Uri(parts: Omit<Pkcs11Uri, 'pinValue' | 'other'> & { other?: Record<string, string> }): string {
  const path: string[] = [];
  const push = (name: string, value: string | Uint8Array | undefined, forceHex = false): void => {
    if (value !== undefined) path.push(`${name}=${encode(value, PATH_SAFE, forceHex)}`);
  };
  push('token', parts.token);
  push('manufacturer', parts.manufacturer);
  push('serial', parts.serial);
  push('model', parts.model);
  push('object', parts.object);
  push('id', parts.id, true);
  if (parts.type !== undefined) {
    if (!TYPES.includes(parts.type)) throw invalid(`attribute "type" must be one of ${TYPES.join(', ')}`);
    push('type', parts.type);
  }
  if (parts.slotId !== undefined) push('slot-id', String(parts.slotId));
  const query: string[] = [];
  for (const [name, value] of Object.entries(parts.other ?? {})) path.push(`${name}=${encode(value, PATH_SAFE)}`);
  if (parts.pinSource !== undefined) query.push(`pin-source=${encode(parts.pinSource, QUERY_SAFE)}`);
  if (parts.modulePath !== undefined) query.push(`module-path=${encode(parts.modulePath, QUERY_SAFE)}`);
  return `pkcs11:${path.join(';')}${query.length ? `?${query.join('&')}` : ''}`;
}

/**
 * The URI with any `pin-value` replaced by `***`, safe to log.
 *
 * @example
 * ```ts
 * redactPkcs11Uri('pkcs11:token=dev?pin-value=1234'); // 'pkcs11:token=dev?pin-value=***'
 * ```
 */
export function redactPkcs11Uri(uri: string): string {
  return uri.replace(/(pin-value=)[^&;]*/gi, '$1***');
}

/** A short, PIN-free description of the object a URI names, for messages. */
export function describePkcs11Object(uri: Pkcs11Uri): string {
  const bits: string[] = [];
  if (uri.object !== undefined) bits.push(`object "${uri.object}"`);
  if (uri.id !== undefined) bits.push(`id ${Buffer.from(uri.id).toString('hex')}`);
  if (uri.type !== undefined) bits.push(`type ${uri.type}`);
  const where = uri.token !== undefined ? ` on token "${uri.token}"` : uri.serial !== undefined ? ` on token serial ${uri.serial}` : '';
  return `${bits.join(', ') || 'the first matching object'}${where}`;
}
